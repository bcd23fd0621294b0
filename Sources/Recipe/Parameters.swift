/// A parameter value as a user gave it or as the catalogue resolved it.
public enum ParameterValue: Sendable, Equatable, Codable, CustomStringConvertible {
    case integer(Int)
    case number(Double)
    case string(String)

    public init(from decoder: any Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { self = .integer(i) } else if let d = try? c.decode(Double.self) { self = .number(d) } else {
            self = .string(try c.decode(String.self))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .integer(let i): try c.encode(i)
        case .number(let d): try c.encode(d)
        case .string(let s): try c.encode(s)
        }
    }

    /// Numbers compare by value (JSON writes 1.0 as 1, which reads back as an integer).
    public static func == (a: ParameterValue, b: ParameterValue) -> Bool {
        switch (a, b) {
        case let (.string(x), .string(y)): return x == y
        case let (.integer(x), .integer(y)): return x == y
        case let (.integer(x), .number(y)), let (.number(y), .integer(x)): return Double(x) == y
        case let (.number(x), .number(y)): return x == y
        default: return false
        }
    }

    public var description: String {
        switch self {
        case .integer(let i): return "\(i)"
        case .number(let d): return d == d.rounded() && abs(d) < 1e15 ? "\(Int(d))" : "\(d)"
        case .string(let s): return s
        }
    }
}

/// The type of a step parameter, with its bounds.
public enum ParameterType: Sendable, Equatable {
    case integer(ClosedRange<Int>)
    case number(ClosedRange<Double>)
    case choice([String])
    /// A width:height ratio such as `16:9` (or one number such as `2.39`).
    case aspect
    /// A location: a file path on the command line, an http(s) or data: URL in the API.
    case url

    /// The JSON-schema type name.
    public var jsonType: String {
        switch self {
        case .integer: return "integer"
        case .number: return "number"
        case .choice, .aspect, .url: return "string"
        }
    }
}

/// One parameter of a catalogue entry: the single place its type, bounds, default and unit live.
public struct ParameterSpec: Sendable {
    public let name: String
    public let summary: String
    public let type: ParameterType
    /// nil: optional without a default (the step decides), or required when `required` is set.
    public let defaultValue: ParameterValue?
    public let required: Bool
    public let unit: String?

    public init(_ name: String, _ type: ParameterType, default defaultValue: ParameterValue? = nil, required: Bool = false,
                unit: String? = nil, _ summary: String) {
        self.name = name; self.type = type; self.defaultValue = defaultValue; self.required = required
        self.unit = unit; self.summary = summary
    }

    /// The longest string value accepted (a data: URL holding a LUT is the longest legitimate one).
    public static let maxStringLength = 8 << 20

    /// Checks and normalises one value (strings from the chain grammar are read as the type says).
    public func validate(_ value: ParameterValue, step: String) throws -> ParameterValue {
        func fail(_ why: String) -> RecipeError { .badParameter(step: step, parameter: name, value: "\(value)".prefix(80).description, reason: why) }
        switch type {
        case .integer(let range):
            let i: Int
            switch value {
            case .integer(let v): i = v
            case .number(let d) where d.isFinite && d == d.rounded() && abs(d) < 1e15: i = Int(d)
            case .string(let s) where Int(s.trimmed) != nil: i = Int(s.trimmed)!
            default: throw fail("must be a whole number in \(range.lowerBound)...\(range.upperBound)")
            }
            guard range.contains(i) else { throw fail("must be in \(range.lowerBound)...\(range.upperBound)") }
            return .integer(i)
        case .number(let range):
            let d: Double
            switch value {
            case .integer(let v): d = Double(v)
            case .number(let v): d = v
            case .string(let s) where Double(s.trimmed) != nil: d = Double(s.trimmed)!
            default: throw fail("must be a number in \(range.lowerBound.shortText)...\(range.upperBound.shortText)")
            }
            guard d.isFinite else { throw fail("must be a finite number") }
            guard range.contains(d) else { throw fail("must be in \(range.lowerBound.shortText)...\(range.upperBound.shortText)") }
            return .number(d)
        case .choice(let values):
            let s = "\(value)".trimmed
            guard values.contains(s) else { throw fail("must be one of \(values.joined(separator: ", "))") }
            return .string(s)
        case .aspect:
            guard case .string(let s) = value.asString, let ratio = Self.aspectRatio(s), (0.01...100).contains(ratio) else {
                throw fail("must be a ratio such as 16:9, 4:3 or 2.39, between 0.01 and 100")
            }
            return .string(s.trimmed)
        case .url:
            guard case .string(let s) = value, !s.isEmpty else { throw fail("must be a file path or URL") }
            guard s.utf8.count <= Self.maxStringLength else { throw fail("is longer than \(Self.maxStringLength) bytes") }
            guard !s.utf8.contains(0) else { throw fail("holds a NUL byte") }
            return value
        }
    }

    /// `16:9` or `1.778` as a number.
    public static func aspectRatio(_ s: String) -> Double? {
        let parts = s.trimmed.split(separator: ":", omittingEmptySubsequences: false)
        if parts.count == 2, let w = Double(parts[0]), let h = Double(parts[1]), w > 0, h > 0, w.isFinite, h.isFinite { return w / h }
        if parts.count == 1, let r = Double(parts[0]), r.isFinite, r > 0 { return r }
        return nil
    }
}

extension ParameterValue {
    var asString: ParameterValue { if case .string = self { return self } else { return .string("\(self)") } }
}

/// A step's parameters after validation: every declared parameter with a value or its default.
public struct Parameters: Sendable, Equatable, Codable {
    public var values: [String: ParameterValue]

    public init(_ values: [String: ParameterValue] = [:]) { self.values = values }

    public func int(_ name: String) -> Int? {
        switch values[name] { case .integer(let i)?: return i; case .number(let d)?: return Int(d); default: return nil }
    }
    public func double(_ name: String) -> Double? {
        switch values[name] { case .integer(let i)?: return Double(i); case .number(let d)?: return d; default: return nil }
    }
    public func string(_ name: String) -> String? {
        if case .string(let s)? = values[name] { return s } else { return nil }
    }
    public func has(_ name: String) -> Bool { values[name] != nil }
}

extension String {
    /// Without spaces, tabs or line breaks at either end.
    public var trimmed: String {
        var s = Substring(self)
        while let c = s.first, c == " " || c == "\t" || c == "\n" || c == "\r" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" || c == "\n" || c == "\r" { s = s.dropLast() }
        return String(s)
    }
}

extension Double {
    /// "0.5", "4", "-1": the shortest plain form.
    public var shortText: String { self == rounded() && abs(self) < 1e15 ? "\(Int(self))" : "\(self)" }
}
