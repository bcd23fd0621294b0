/// One step of a chain as given: an effect name and its parameters (possibly partial).
public struct ChainStep: Sendable, Equatable, Codable {
    public var name: String
    public var params: [String: ParameterValue]

    public init(_ name: String, _ params: [String: ParameterValue] = [:]) {
        self.name = name; self.params = params
    }

    enum CodingKeys: String, CodingKey { case name, params }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        name = try c.decode(String.self, forKey: .name)
        params = try c.decodeIfPresent([String: ParameterValue].self, forKey: .params) ?? [:]
    }

    /// The step checked against the catalogue, with every default filled in.
    public func resolved() throws -> ResolvedStep {
        let definition = try EffectCatalogue.require(name)
        var values: [String: ParameterValue] = [:]
        for key in params.keys.sorted() where definition.parameter(key) == nil {
            throw RecipeError.unknownParameter(step: name, parameter: key, known: definition.parameters.map(\.name))
        }
        for spec in definition.parameters {
            if let given = params[spec.name] {
                values[spec.name] = try spec.validate(given, step: name)
            } else if let d = spec.defaultValue {
                values[spec.name] = d
            } else if spec.required {
                throw RecipeError.missingParameter(step: name, parameter: spec.name)
            }
        }
        let p = Parameters(values)
        try definition.check(p)
        return ResolvedStep(definition: definition, parameters: p)
    }

    /// The chain grammar form: `name:key=value,...` (values quoted where they need it).
    public var text: String {
        guard !params.isEmpty else { return name }
        return name + ":" + params.keys.sorted().map { key in
            let v = "\(params[key]!)"
            let plain = !v.isEmpty && !v.contains(where: { ",|' =\t\n".contains($0) })
            return "\(key)=" + (plain ? v : "'" + v.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'")
        }.joined(separator: ",")
    }
}

/// A step whose name and parameters the catalogue accepted.
public struct ResolvedStep: Sendable {
    public let definition: EffectDefinition
    public let parameters: Parameters
    public var name: String { definition.name }
}

/// The chain grammar shared by `--chain` and the API's `effects` string:
/// steps separated by `|`, each `name` or `name:key=value,key=value`; a value in single quotes
/// may hold `,`, `|`, `:`, `=` and spaces (a quote inside is doubled: `''`).
public enum Chain {
    /// The longest chain accepted, in steps.
    public static let maxSteps = 64

    /// Parses `text` into steps (names and parameters are checked by ``resolve(_:)``).
    public static func parse(_ text: String) throws -> [ChainStep] {
        var steps: [ChainStep] = []
        var chars = Array(text)[...]
        func skipSpaces() { while let c = chars.first, c == " " || c == "\t" || c == "\n" || c == "\r" { chars = chars.dropFirst() } }
        // A bare word up to one of `stops`, or a quoted string.
        func word(stops: Set<Character>, what: String) throws -> (String, quoted: Bool) {
            skipSpaces()
            if chars.first == "'" {
                chars = chars.dropFirst()
                var out = ""
                while true {
                    guard let c = chars.first else { throw RecipeError.syntax("unterminated quote in \(what) '\(out.prefix(40))'") }
                    chars = chars.dropFirst()
                    if c == "'" {
                        if chars.first == "'" { out.append("'"); chars = chars.dropFirst(); continue }
                        break
                    }
                    out.append(c)
                }
                skipSpaces()
                return (out, true)
            }
            var out = ""
            while let c = chars.first, !stops.contains(c), !c.isWhitespace { out.append(c); chars = chars.dropFirst() }
            skipSpaces()
            return (out, false)
        }
        if text.trimmed.isEmpty { return [] }
        while true {
            let (name, _) = try word(stops: [":", "|", ","], what: "a step name")
            guard !name.isEmpty else {
                throw RecipeError.syntax(steps.isEmpty ? "expected a step name at the start" : "expected a step name after '|' (step \(steps.count + 1))")
            }
            guard name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }), name.count <= 64 else {
                throw RecipeError.syntax("'\(name.prefix(64))' is not a step name (step \(steps.count + 1)); names are letters, digits and _")
            }
            var step = ChainStep(name)
            skipSpaces()
            if chars.first == "," {
                throw RecipeError.syntax("unexpected ',' after '\(name)': parameters follow a ':' (\(name):key=value,key=value)")
            }
            if chars.first == ":" {
                chars = chars.dropFirst()
                repeat {
                    if chars.first == "," { chars = chars.dropFirst() }
                    let (key, _) = try word(stops: ["=", ",", "|"], what: "a parameter name")
                    guard chars.first == "=" else {
                        throw RecipeError.syntax("'\(key.prefix(64))' in step '\(name)' needs a value (key=value)")
                    }
                    guard !key.isEmpty, key.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                        throw RecipeError.syntax("'\(key.prefix(64))' in step '\(name)' is not a parameter name")
                    }
                    chars = chars.dropFirst()
                    let (value, quoted) = try word(stops: [",", "|"], what: "the value of \(key)")
                    guard quoted || !value.isEmpty else { throw RecipeError.syntax("\(name): \(key) has no value") }
                    if !quoted, value.contains(where: { $0 == "=" || $0 == "'" }) {
                        throw RecipeError.syntax("\(name): the value of \(key) ('\(value.prefix(64))') holds '=' or a quote; quote it: \(key)='...'")
                    }
                    guard step.params[key] == nil else { throw RecipeError.syntax("\(name): \(key) is given twice") }
                    step.params[key] = .string(value)
                    skipSpaces()
                } while chars.first == ","
            }
            steps.append(step)
            guard steps.count <= maxSteps else { throw RecipeError.syntax("more than \(maxSteps) steps") }
            skipSpaces()
            guard let c = chars.first else { break }
            guard c == "|" else { throw RecipeError.syntax("unexpected '\(c)' after step '\(name)' (steps are separated by '|')") }
            chars = chars.dropFirst()
        }
        return steps
    }

    /// Every step checked against the catalogue.
    public static func resolve(_ steps: [ChainStep]) throws -> [ResolvedStep] {
        guard steps.count <= maxSteps else { throw RecipeError.syntax("more than \(maxSteps) steps") }
        return try steps.map { try $0.resolved() }
    }

    /// Steps back in the grammar.
    public static func text(_ steps: [ChainStep]) -> String { steps.map(\.text).joined(separator: " | ") }
}
