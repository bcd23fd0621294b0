import Effects
import Foundation
import MediaIO
import Pipeline

/// The prediction inputs, described once: validation and the OpenAPI document both come from here.
public struct InputField: Sendable {
    public enum Kind: Sendable { case uri, integer(ClosedRange<Int>), number(ClosedRange<Double>), choice([String]), string }
    public let name: String
    public let title: String
    public let description: String
    public let kind: Kind
    public let defaultValue: JSONValue?
}

public enum InputSchema {
    public static let fields: [InputField] = [
        InputField(name: "video", title: "Video", description: "Input video: an http(s) or data: URL.", kind: .uri, defaultValue: nil),
        InputField(name: "num_levels", title: "Num Levels", description: "Posterize: levels per RGB channel.",
                   kind: .integer(2...256), defaultValue: .int(25)),
        InputField(name: "threshold", title: "Threshold", description: "Threshold: channels above this (0-1) become 255, the rest 0.",
                   kind: .number(0...1), defaultValue: .double(0.5)),
        InputField(name: "output_codec", title: "Output Codec",
                   description: "Encoder; NVIDIA encoders fall back to the CPU encoder of the same format when no GPU is present.",
                   kind: .choice(CodecCatalog.entries.map(\.name)), defaultValue: .string(CodecCatalog.defaultCodec)),
        InputField(name: "effect", title: "Effect",
                   description: "posterize, threshold or none. Default: posterize, or threshold when only threshold is given.",
                   kind: .choice(["auto"] + EffectChoice.names), defaultValue: .string("auto")),
        InputField(name: "crf", title: "Crf", description: "Constant quality; lower is better (0-51 for H.264/HEVC, 0-63 for AV1/VP9).",
                   kind: .integer(0...63), defaultValue: .int(19)),
        InputField(name: "preset", title: "Preset", description: "Encoder preset; empty for the encoder's default.",
                   kind: .string, defaultValue: .string("")),
    ]

    /// The 422 body: every problem found.
    public struct ValidationFailure: Error, Encodable, Sendable {
        public var detail: [Problem]
    }

    /// One validation problem, in Cog's (FastAPI's) shape.
    public struct Problem: Codable, Sendable, Equatable {
        public var loc: [String]
        public var msg: String
        public var type: String
    }

    /// Checks `input` and returns it with defaults filled in, or every problem found.
    public static func validate(_ input: [String: JSONValue]) -> Result<[String: JSONValue], ValidationFailure> {
        var problems: [Problem] = []
        var out: [String: JSONValue] = [:]
        for field in fields {
            let loc = ["body", "input", field.name]
            guard let value = input[field.name], value != .null else {
                if let d = field.defaultValue { out[field.name] = d } else {
                    problems.append(Problem(loc: loc, msg: "Field required", type: "value_error.missing"))
                }
                continue
            }
            switch field.kind {
            case .uri, .string:
                guard case .string(let s) = value else {
                    problems.append(Problem(loc: loc, msg: "str type expected", type: "type_error.str")); continue
                }
                if case .uri = field.kind {
                    guard isURI(s) else {
                        problems.append(Problem(loc: loc, msg: "invalid URL: only the characters RFC 3986 allows (non-ASCII must be percent-encoded)", type: "value_error.url")); continue
                    }
                    let lower = s.lowercased()
                    guard lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("data:") else {
                        problems.append(Problem(loc: loc, msg: "invalid or missing URL scheme (use http, https or data)", type: "value_error.url.scheme")); continue
                    }
                }
                out[field.name] = value
            case .integer(let range):
                guard case .int(let i) = value else {
                    problems.append(Problem(loc: loc, msg: "value is not a valid integer", type: "type_error.integer")); continue
                }
                if i < range.lowerBound {
                    problems.append(Problem(loc: loc, msg: "ensure this value is greater than or equal to \(range.lowerBound)", type: "value_error.number.not_ge"))
                } else if i > range.upperBound {
                    problems.append(Problem(loc: loc, msg: "ensure this value is less than or equal to \(range.upperBound)", type: "value_error.number.not_le"))
                } else { out[field.name] = value }
            case .number(let range):
                let d: Double
                switch value {
                case .int(let i): d = Double(i)
                case .double(let x): d = x
                default: problems.append(Problem(loc: loc, msg: "value is not a valid float", type: "type_error.float")); continue
                }
                if d < range.lowerBound {
                    problems.append(Problem(loc: loc, msg: "ensure this value is greater than or equal to \(range.lowerBound)", type: "value_error.number.not_ge"))
                } else if d > range.upperBound {
                    problems.append(Problem(loc: loc, msg: "ensure this value is less than or equal to \(range.upperBound)", type: "value_error.number.not_le"))
                } else { out[field.name] = .double(d) }
            case .choice(let choices):
                guard case .string(let s) = value, choices.contains(s) else {
                    problems.append(Problem(loc: loc, msg: "value is not a valid enumeration member; permitted: \(choices.map { "'\($0)'" }.joined(separator: ", "))", type: "type_error.enum")); continue
                }
                out[field.name] = value
            }
        }
        // The codec's own quality range is narrower for H.264/HEVC.
        if case .int(let crf)? = out["crf"], case .string(let codec)? = out["output_codec"],
           let entry = CodecCatalog.entry(named: codec), crf > entry.maxQuality {
            problems.append(Problem(loc: ["body", "input", "crf"], msg: "ensure this value is less than or equal to \(entry.maxQuality) for \(codec)", type: "value_error.number.not_le"))
        }
        return problems.isEmpty ? .success(out) : .failure(ValidationFailure(detail: problems))
    }

    /// The effect a validated input asks for; `given` holds the keys the client sent.
    static func effect(_ input: [String: JSONValue], given: Set<String>) throws -> EffectChoice {
        var name = input["effect"]?.string ?? "auto"
        if name == "auto" { name = given.contains("threshold") && !given.contains("num_levels") ? "threshold" : "posterize" }
        var levels = Posterize.defaultLevels, threshold = Threshold.defaultThreshold
        if case .int(let i)? = input["num_levels"] { levels = i }
        if case .double(let d)? = input["threshold"] { threshold = d }
        return try EffectChoice.named(name, levels: levels, threshold: threshold)
    }
}


/// Whether `s` is made only of the characters a URI may hold (RFC 3986), with a scheme.
func isURI(_ s: String) -> Bool {
    let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%".utf8)
    guard let colon = s.utf8.firstIndex(of: UInt8(ascii: ":")), colon != s.utf8.startIndex else { return false }
    return s.utf8.allSatisfy(allowed.contains)
}
