import ErrorTaxonomy
import Recipe

/// One video of a batch: its recipe (input, output, steps, settings) and where it came from.
public struct BatchItem: Sendable, Equatable, Codable {
    public var recipe: Recipe
    /// What messages call it: the argument or the manifest line it came from.
    public var origin: String

    public init(recipe: Recipe, origin: String) { self.recipe = recipe; self.origin = origin }
}

/// Why a batch cannot start; always before any item runs.
public enum BatchError: Error, CategorizedError, CustomStringConvertible, Equatable {
    case manifest(file: String, line: Int, reason: String)
    case collision(output: String, first: String, second: String)
    case overwritesInput(output: String, input: String)
    case template(String, reason: String)
    /// An item whose recipe does not validate (its steps, codec, quality, or an output container that
    /// cannot hold the codec).
    case invalidItem(output: String, origin: String, reason: String)
    case nothingToDo

    public var category: ErrorCategory { .invalidInput }

    public var description: String {
        switch self {
        case let .manifest(file, line, reason): return "\(file):\(line): \(reason)"
        case let .collision(output, first, second): return "\(first) and \(second) would both write \(output); change --name or the manifest's outputs"
        case let .overwritesInput(output, input): return "the output \(output) would overwrite the input \(input)"
        case let .template(t, reason): return "--name \(t): \(reason)"
        case let .invalidItem(output, origin, reason): return "\(origin) (output \(output)): \(reason)"
        case .nothingToDo: return "no input videos found"
        }
    }
}
