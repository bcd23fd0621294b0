/// The catalogue as data: what `vfx effects --json` prints and what tests compare with `/openapi.json`.
public struct EffectDescription: Sendable, Codable, Equatable {
    public struct Parameter: Sendable, Codable, Equatable {
        public var name: String
        public var type: String
        public var `default`: ParameterValue?
        public var min: Double?
        public var max: Double?
        public var values: [String]?
        public var unit: String?
        public var required: Bool
        public var summary: String
    }
    /// A rule across parameters, as `vfx effects --json` prints it.
    public struct Rule: Sendable, Codable, Equatable {
        /// `any_of`, `excludes` or `when_equals`.
        public var rule: String
        /// any_of: at least one of these; excludes: `parameter` not with any of these; when_equals: all of these.
        public var parameters: [String]
        public var parameter: String?
        public var value: String?
        /// The rule in words, as errors and the README say it.
        public var text: String

        public init(_ r: ParameterRule) {
            switch r {
            case .anyOf(let names):
                rule = "any_of"; parameters = names; text = ParameterRule.list(names, "or") + " is required"
            case let .excludes(p, others):
                rule = "excludes"; parameters = others; parameter = p
                text = "\(p) cannot be given with \(ParameterRule.list(others, "or"))"
            case let .whenEquals(p, v, required):
                rule = "when_equals"; parameters = required; parameter = p; value = v
                text = "\(p)=\(v) needs \(ParameterRule.list(required, "and"))"
            }
        }
    }

    public var name: String
    public var summary: String
    public var kind: EffectKind
    public var parameters: [Parameter]
    public var rules: [Rule]

    public init(_ d: EffectDefinition) {
        name = d.name; summary = d.summary; kind = d.kind
        rules = d.rules.map(Rule.init)
        parameters = d.parameters.map { p in
            var out = Parameter(name: p.name, type: p.type.jsonType, default: p.defaultValue, unit: p.unit, required: p.required,
                                summary: p.summary)
            switch p.type {
            case .integer(let r): out.min = Double(r.lowerBound); out.max = Double(r.upperBound)
            case .number(let r): out.min = r.lowerBound; out.max = r.upperBound
            case .choice(let v): out.values = v
            case .aspect, .url: break
            }
            return out
        }
    }

    /// Every entry, in catalogue order.
    public static var all: [EffectDescription] { EffectCatalogue.all.map(EffectDescription.init) }

    /// The catalogue as a Markdown table (the README's, which a test holds equal to this).
    public static func markdownTable() -> String {
        var lines = ["| step | kind | what it does | parameters |", "| --- | --- | --- | --- |"]
        for d in EffectCatalogue.all {
            let params = d.parameters.map { p -> String in
                var s = "`\(p.name)` \(p.rangeText)"
                if let unit = p.unit { s += " \(unit)" }
                if let v = p.defaultValue { s += " (default \(v))" } else if p.required { s += " (required)" }
                return s
            }
            var cell = params.isEmpty ? "none" : params.joined(separator: "; ")
            if !d.rules.isEmpty { cell += "; " + d.rules.map { Rule($0).text }.joined(separator: "; ") }
            lines.append("| `\(d.name)` | \(d.kind.rawValue) | \(d.summary) | \(cell) |")
        }
        return lines.joined(separator: "\n")
    }
}

extension ParameterSpec {
    /// "2...256", "0...1", "90, 180, 270", "a ratio such as 16:9".
    public var rangeText: String {
        switch type {
        case .integer(let r): return "\(r.lowerBound)...\(r.upperBound)"
        case .number(let r): return "\(r.lowerBound.shortText)...\(r.upperBound.shortText)"
        case .choice(let v): return v.joined(separator: ", ")
        case .aspect: return "a ratio such as 16:9"
        case .url: return "a file or URL"
        }
    }
}
