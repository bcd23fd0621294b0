#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Recipe

/// Turns inputs (or a manifest) plus the batch's own chain and settings into items with their
/// output paths, and refuses plans that would collide or overwrite an input, before any work.
public enum BatchPlanner {
    public static func plan(inputs: [String], manifest: [ManifestEntry] = [], outputDirectory: String, names: OutputNames,
                            steps: [ChainStep], settings: OutputSettings) throws -> [BatchItem] {
        var items: [BatchItem] = []
        let count = inputs.count + manifest.count
        for (i, input) in inputs.enumerated() {
            let name = names.name(input: input, index: i, count: count, steps: steps, codec: settings.codec)
            items.append(BatchItem(recipe: Recipe(input: input, output: join(outputDirectory, name), steps: steps, settings: settings),
                                   origin: input))
        }
        for (j, entry) in manifest.enumerated() {
            let i = inputs.count + j
            let itemSteps = entry.chain ?? steps
            let itemSettings = entry.settings.applied(to: settings)
            let output = entry.output.map { $0.hasPrefix("/") ? $0 : join(outputDirectory, $0) }
                ?? join(outputDirectory, names.name(input: entry.input, index: i, count: count, steps: itemSteps, codec: itemSettings.codec))
            items.append(BatchItem(recipe: Recipe(input: entry.input, output: output, steps: itemSteps, settings: itemSettings),
                                   origin: "line \(entry.line)"))
        }
        guard !items.isEmpty else { throw BatchError.nothingToDo }
        try validateItems(items)
        try checkOutputs(items)
        return items
    }

    /// Every item's recipe passes validation before any work: its steps, codec and quality, and an
    /// output whose extension names a container that holds the codec (a name given explicitly, in the
    /// manifest or the template, is not changed).
    static func validateItems(_ items: [BatchItem]) throws {
        for item in items {
            do { try item.recipe.validate() } catch {
                throw BatchError.invalidItem(output: item.recipe.output, origin: item.origin, reason: "\(error)")
            }
        }
    }

    /// Two items may not write one file, and no output may be an input.
    static func checkOutputs(_ items: [BatchItem]) throws {
        func key(_ path: String) -> String { URL(fileURLWithPath: path).standardizedFileURL.path }
        let inputs = Dictionary(items.map { (key($0.recipe.input), $0.recipe.input) }, uniquingKeysWith: { a, _ in a })
        var seen: [String: BatchItem] = [:]
        for item in items {
            let k = key(item.recipe.output)
            if let input = inputs[k] { throw BatchError.overwritesInput(output: item.recipe.output, input: input) }
            if let first = seen[k] { throw BatchError.collision(output: item.recipe.output, first: first.origin, second: item.origin) }
            seen[k] = item
        }
    }

    static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }
}
