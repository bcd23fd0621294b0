import Effects
import Foundation
import MediaIO
import Pipeline
import Recipe

/// The prediction inputs, described once: validation and the OpenAPI document both come from here.
public struct InputField: Sendable {
    public enum Kind: Sendable {
        case uri, integer(ClosedRange<Int>), number(ClosedRange<Double>), choice([String]), string
        /// A chain of catalogue steps: a string in the chain grammar, or an array of `{name, params}`.
        case steps
        /// A list of input URLs (a batch).
        case uriList
        case boolean
    }
    public let name: String
    public let title: String
    public let description: String
    public let kind: Kind
    public let defaultValue: JSONValue?
}

public enum InputSchema {
    /// The seed's flat fields take their bounds and defaults from the catalogue's posterize and threshold.
    private static let levels = EffectCatalogue.posterize.parameter("levels")!
    private static let level = EffectCatalogue.threshold.parameter("level")!

    /// Derived anew from the catalogues each time (an encoder registered later appears too).
    public static var fields: [InputField] { [
        InputField(name: "video", title: "Video", description: "Input video: an http(s) or data: URL (or give videos).", kind: .uri, defaultValue: nil),
        InputField(name: "num_levels", title: "Num Levels", description: "Posterize: levels per RGB channel.",
                   kind: .integer(levels.intRange!), defaultValue: levels.defaultValue.map(JSONValue.init)),
        InputField(name: "threshold", title: "Threshold", description: "Threshold: channels above this (0-1) become 255, the rest 0.",
                   kind: .number(level.numberRange!), defaultValue: level.defaultValue.map(JSONValue.init)),
        InputField(name: "output_codec", title: "Output Codec",
                   description: "Encoder; NVIDIA encoders fall back to the CPU encoder of the same format when no GPU is present.",
                   kind: .choice(OutputCatalogue.encoders.map(\.name)), defaultValue: .string(OutputCatalogue.defaultCodec)),
        InputField(name: "effect", title: "Effect",
                   description: "posterize, threshold or none. Default: posterize, or threshold when only threshold is given.",
                   kind: .choice(["auto"] + Recipe.seedEffects), defaultValue: .string("auto")),
        InputField(name: "effects", title: "Effects",
                   description: "A chain of steps instead of effect: a string such as \"trim:start=2,end=8 | resize:width=1280 | posterize:levels=6\" or an array of {\"name\", \"params\"}. Steps: "
                       + EffectCatalogue.all.map(\.name).joined(separator: ", ") + ". When given, effect, num_levels and threshold are not used.",
                   kind: .steps, defaultValue: nil),
        InputField(name: "videos", title: "Videos",
                   description: "Instead of video: several input URLs processed with the same settings; output is then a list in the same order.",
                   kind: .uriList, defaultValue: nil),
        InputField(name: "continue_on_error", title: "Continue On Error",
                   description: "With videos: a failed item gives null in its place (and a log line) instead of failing the prediction.",
                   kind: .boolean, defaultValue: .bool(false)),
        InputField(name: "crf", title: "Crf", description: "Constant quality; lower is better (\(OutputCatalogue.qualityRangesText)).",
                   kind: .integer(OutputCatalogue.qualityBounds), defaultValue: .int(OutputCatalogue.defaultQuality)),
        InputField(name: "preset", title: "Preset", description: "Encoder preset; empty for the encoder's default.",
                   kind: .string, defaultValue: .string("")),
        InputField(name: "audio", title: "Audio", description: "Keep the input's audio (false: the output has none).",
                   kind: .boolean, defaultValue: .bool(true)),
        InputField(name: "decoder", title: "Decoder", description: DecoderChoice.help,
                   kind: .choice(DecoderChoice.allCases.map(\.rawValue)), defaultValue: .string(DecoderChoice.auto.rawValue)),
    ] }

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
    public static func validate(_ input: [String: JSONValue],
                                configuration: ServerConfiguration = ServerConfiguration()) -> Result<[String: JSONValue], ValidationFailure> {
        var problems: [Problem] = []
        var out: [String: JSONValue] = [:]
        let batch = input["videos"] != nil
        for field in fields {
            let loc = ["body", "input", field.name]
            // video and videos take no null (as a required field in Cog does not): exactly one of them is given.
            if field.name == "video" || field.name == "videos", input[field.name] == .null {
                problems.append(Problem(loc: loc, msg: "none is not an allowed value", type: "type_error.none.not_allowed"))
                continue
            }
            guard let value = input[field.name], value != .null else {
                if case .steps = field.kind { continue }
                if case .uriList = field.kind { continue }
                if field.name == "video" && batch { continue }
                if let d = field.defaultValue { out[field.name] = d } else {
                    problems.append(Problem(loc: loc, msg: "Field required", type: "value_error.missing"))
                }
                continue
            }
            switch field.kind {
            case .uriList:
                let found = videosProblems(value, loc: loc, alsoVideo: input["video"] != nil, configuration: configuration)
                if found.isEmpty { out[field.name] = value } else { problems += found }
            case .boolean:
                guard case .bool = value else {
                    problems.append(Problem(loc: loc, msg: "value could not be parsed to a boolean", type: "type_error.bool")); continue
                }
                out[field.name] = value
            case .uri, .string:
                if case .uri = field.kind, let (msg, type) = uriProblem(value) {
                    problems.append(Problem(loc: loc, msg: msg, type: type)); continue
                }
                guard case .string = value else {
                    problems.append(Problem(loc: loc, msg: "str type expected", type: "type_error.str")); continue
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
            case .steps:
                do {
                    _ = try checkedSteps(value)
                    out[field.name] = value
                } catch {
                    problems.append(Problem(loc: loc, msg: "\(error)", type: "value_error.effects"))
                }
            case .choice(let choices):
                guard case .string(let s) = value, choices.contains(s) else {
                    problems.append(Problem(loc: loc, msg: "value is not a valid enumeration member; permitted: \(choices.map { "'\($0)'" }.joined(separator: ", "))", type: "type_error.enum")); continue
                }
                out[field.name] = value
            }
        }
        // What the fields say together (the codec's own quality range, say) is the recipe's to check.
        if problems.isEmpty {
            do {
                try recipe(out, steps: steps(out, given: Set(input.keys)), video: "input", output: outputName(out)).validate()
            } catch {
                problems.append(Problem(loc: location(of: error), msg: "\(error)", type: "value_error"))
            }
        }
        return problems.isEmpty ? .success(out) : .failure(ValidationFailure(detail: problems))
    }

    /// What is wrong with a `videos` list: its type, its length, each URL, the bytes its data: URLs add up
    /// to, and a `video` given beside it.
    static func videosProblems(_ value: JSONValue, loc: [String], alsoVideo: Bool, configuration: ServerConfiguration) -> [Problem] {
        guard case .array(let items) = value else { return [Problem(loc: loc, msg: "value is not a valid list", type: "type_error.list")] }
        if items.isEmpty || items.count > configuration.maxBatchItems {
            return [Problem(loc: loc, msg: "ensure this list has 1 to \(configuration.maxBatchItems) items (max_batch_items)",
                            type: items.isEmpty ? "value_error.list.min_items" : "value_error.list.max_items")]
        }
        var problems: [Problem] = []
        var dataBytes = 0
        for (i, item) in items.enumerated() {
            if let why = uriProblem(item) { problems.append(Problem(loc: loc + [String(i)], msg: why.0, type: why.1)) }
            if let s = item.string, s.lowercased().hasPrefix("data:") { dataBytes += s.utf8.count * 3 / 4 }
        }
        if dataBytes > configuration.maxBatchInputBytes {
            problems.append(Problem(loc: loc, msg: "the videos add up to more than \(configuration.maxBatchInputBytes) bytes (max_batch_input_bytes)",
                                    type: "value_error.too_large"))
        }
        if alsoVideo { problems.append(Problem(loc: loc, msg: "give either video or videos, not both", type: "value_error.conflict")) }
        return problems
    }

    /// What is wrong with one input URL, as a message and a type (nil: nothing).
    static func uriProblem(_ value: JSONValue) -> (String, String)? {
        guard case .string(let s) = value else { return ("str type expected", "type_error.str") }
        guard isURI(s) else { return ("invalid URL: only the characters RFC 3986 allows (non-ASCII must be percent-encoded)", "value_error.url") }
        let lower = s.lowercased()
        guard lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("data:") else {
            return ("invalid or missing URL scheme (use http, https or data)", "value_error.url.scheme")
        }
        return nil
    }

    /// The steps a validated input asks for: `effects`, or the seed's effect with its parameter.
    /// `given` holds the keys the client sent.
    static func steps(_ input: [String: JSONValue], given: Set<String>) throws -> [ChainStep] {
        if let effects = input["effects"], effects != .null { return try steps(from: effects) }
        var levels: Int?, threshold: Double?
        if given.contains("num_levels"), case .int(let i)? = input["num_levels"] { levels = i }
        if given.contains("threshold"), case .double(let d)? = input["threshold"] { threshold = d }
        return try Recipe.seedSteps(effect: input["effect"]?.string, numLevels: levels, threshold: threshold)
    }

    /// The one mapping from a prediction's validated input (and its `steps`, see ``steps(_:given:)``) to
    /// the job it describes, for one of its videos, read from `video` and written to `output`.
    static func recipe(_ input: [String: JSONValue], steps: [ChainStep], video: String, output: String) -> Recipe {
        var settings = OutputSettings(codec: input["output_codec"]?.string ?? OutputCatalogue.defaultCodec)
        if case .int(let crf)? = input["crf"] { settings.quality = crf }
        if let preset = input["preset"]?.string, !preset.isEmpty { settings.preset = preset }
        if input["audio"] == .bool(false) { settings.audio = .drop }
        if let choice = input["decoder"]?.string.flatMap(DecoderChoice.init(rawValue:)), choice != .auto { settings.decoder = choice }
        return Recipe(input: video, output: output, steps: steps, settings: settings)
    }

    /// The output file name a prediction's job writes: the container its codec prefers.
    static func outputName(_ input: [String: JSONValue]) -> String {
        let codec = input["output_codec"]?.string ?? OutputCatalogue.defaultCodec
        return "output." + OutputCatalogue.preferredContainer(forVideoFormat: OutputCatalogue.encoder(named: codec)?.format ?? "").fileExtension
    }

    /// Where in the request an error about the recipe points.
    static func location(of error: any Error) -> [String] {
        switch error as? OutputError {
        case .unknownCodec?, .codecNotAllowed?, .unsupportedContainer?: return ["body", "input", "output_codec"]
        case .qualityOutOfRange?: return ["body", "input", "crf"]
        case nil: return ["body", "input", "effects"]
        }
    }

    /// `effects` as steps: the chain grammar in a string, or an array of `{"name": ..., "params": {...}}`.
    static func steps(from value: JSONValue) throws -> [ChainStep] {
        switch value {
        case .string(let text): return try Chain.parse(text)
        case .array(let items):
            guard items.count <= Chain.maxSteps else { throw RecipeError.syntax("more than \(Chain.maxSteps) steps") }
            return try items.enumerated().map { i, item in
                guard case .object(let o) = item, case .string(let name)? = o["name"] else {
                    throw RecipeError.syntax("step \(i + 1) must be an object with a string \"name\"")
                }
                if let extra = o.keys.sorted().first(where: { $0 != "name" && $0 != "params" }) {
                    throw RecipeError.syntax("step \(i + 1) (\(name.prefix(64))): unknown key '\(extra.prefix(64))' (a step has name and params)")
                }
                var params: [String: ParameterValue] = [:]
                // Absent means every default; null is refused, as the schema (an object) says.
                switch o["params"] {
                case nil: break
                case .object(let p)?:
                    for (key, v) in p {
                        switch v {
                        case .int(let n): params[key] = .integer(n)
                        case .double(let d): params[key] = .number(d)
                        case .string(let s): params[key] = .string(s)
                        default: throw RecipeError.badParameter(step: name, parameter: key, value: "a \(v.typeName)", reason: "must be a number or a string")
                        }
                    }
                default: throw RecipeError.syntax("step \(i + 1) (\(name.prefix(64))): params must be an object")
                }
                return ChainStep(name, params)
            }
        default: throw RecipeError.syntax("must be a string in the chain grammar or an array of steps")
        }
    }

    /// `effects` as steps, resolved against the catalogue, with every file they name an http(s) or data: URL.
    static func checkedSteps(_ value: JSONValue) throws -> [ChainStep] {
        let steps = try Self.steps(from: value)
        for (i, step) in try Chain.resolve(steps).enumerated() { try checkLocations(step, index: i) }
        return steps
    }

    /// The API takes files only by http(s) or data: URL (never a path on this server).
    private static func checkLocations(_ step: ResolvedStep, index: Int) throws {
        for spec in step.definition.parameters where spec.type == .url {
            guard let location = step.parameters.string(spec.name) else { continue }
            let lower = location.lowercased()
            guard isURI(location) || lower.hasPrefix("data:"),
                  lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("data:") else {
                throw RecipeError.badParameter(step: step.name, parameter: spec.name, value: String(location.prefix(80)),
                                               reason: "must be an http(s) or data: URL")
            }
        }
    }
}

extension JSONValue {
    /// A catalogue default as JSON.
    init(_ value: ParameterValue) {
        switch value {
        case .integer(let i): self = .int(i)
        case .number(let d): self = .double(d)
        case .string(let s): self = .string(s)
        }
    }

    var typeName: String {
        switch self {
        case .null: return "null"
        case .bool: return "boolean"
        case .int, .double: return "number"
        case .string: return "string"
        case .array: return "array"
        case .object: return "object"
        }
    }
}

extension ParameterSpec {
    var intRange: ClosedRange<Int>? { if case .integer(let r) = type { return r } else { return nil } }
    var numberRange: ClosedRange<Double>? { if case .number(let r) = type { return r } else { return nil } }
}


/// Whether `s` is made only of the characters a URI may hold (RFC 3986), with a scheme.
func isURI(_ s: String) -> Bool {
    let allowed = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%".utf8)
    guard let colon = s.utf8.firstIndex(of: UInt8(ascii: ":")), colon != s.utf8.startIndex else { return false }
    return s.utf8.allSatisfy(allowed.contains)
}
