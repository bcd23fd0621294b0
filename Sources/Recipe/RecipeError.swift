import ErrorTaxonomy

/// What is wrong with a recipe: always the user's own words (the step, the parameter, the token).
public enum RecipeError: Error, CategorizedError, CustomStringConvertible, Equatable {
    case unknownEffect(String, known: [String])
    case unknownParameter(step: String, parameter: String, known: [String])
    case badParameter(step: String, parameter: String, value: String, reason: String)
    case missingParameter(step: String, parameter: String)
    case syntax(String)
    /// A step that cannot apply to this video (a crop outside the frame, a trim past its end).
    case doesNotFit(step: String, reason: String)
    case resource(step: String, location: String, reason: String)
    /// The seed's `effect` input names something other than posterize, threshold or none.
    case unknownSeedEffect(String)

    public var category: ErrorCategory { .invalidInput }

    public var description: String {
        switch self {
        case let .unknownEffect(name, known):
            return "unknown effect '\(name.prefix(64))' (known: \(known.joined(separator: ", ")))"
        case let .unknownParameter(step, parameter, known):
            let allowed = known.isEmpty ? "it takes no parameters" : "it takes \(known.joined(separator: ", "))"
            return "\(step): unknown parameter '\(parameter.prefix(64))' (\(allowed))"
        case let .badParameter(step, parameter, value, reason): return "\(step): \(parameter)=\(value) \(reason)"
        case let .missingParameter(step, parameter): return "\(step): \(parameter) is required"
        case .syntax(let s): return "effects: \(s)"
        case let .doesNotFit(step, reason): return "\(step): \(reason)"
        case let .resource(step, location, reason): return "\(step): \(location.prefix(120)): \(reason)"
        case .unknownSeedEffect(let name):
            return "unknown effect '\(name.prefix(64))' for effect (posterize, threshold or none; other effects go in a chain)"
        }
    }
}
