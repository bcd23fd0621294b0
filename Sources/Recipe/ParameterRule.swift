/// A rule across one step's parameters, said once: validation, its messages and the API schema
/// (`anyOf`/`not` of `required`) all derive from it. Only rules JSON Schema can state are allowed,
/// so a request the schema accepts is one validation accepts.
public enum ParameterRule: Sendable, Equatable {
    /// At least one of these parameters is given.
    case anyOf([String])
    /// `parameter` cannot be given together with any of `others`.
    case excludes(String, [String])
    /// When `parameter` is `value`, all of `required` are given.
    case whenEquals(String, String, requires: [String])

    /// Every parameter the rule names.
    public var names: [String] {
        switch self {
        case .anyOf(let n): return n
        case let .excludes(p, others): return [p] + others
        case let .whenEquals(p, _, required): return [p] + required
        }
    }

    /// Throws the error a user sees when `p` (defaults filled in) breaks the rule.
    public func check(_ p: Parameters, step: String) throws {
        switch self {
        case .anyOf(let names):
            guard names.contains(where: p.has) else {
                throw RecipeError.missingParameter(step: step, parameter: Self.list(names, "or"))
            }
        case let .excludes(parameter, others):
            let clashing = others.filter(p.has)
            if p.has(parameter), !clashing.isEmpty {
                throw RecipeError.badParameter(step: step, parameter: parameter, value: p.values[parameter].map { "\($0)" } ?? "",
                                               reason: "cannot be given with \(Self.list(clashing, "or")) (give one of them)")
            }
        case let .whenEquals(parameter, value, required):
            if p.string(parameter) == value, !required.allSatisfy(p.has) {
                let all = required.count == 2 ? "both " + Self.list(required, "and") : Self.list(required, "and")
                throw RecipeError.badParameter(step: step, parameter: parameter, value: value, reason: "needs \(all)")
            }
        }
    }

    /// "a", "a or b", "a, b or c".
    static func list(_ names: [String], _ conjunction: String) -> String {
        names.count <= 1 ? names.joined() : names.dropLast().joined(separator: ", ") + " \(conjunction) " + names.last!
    }
}
