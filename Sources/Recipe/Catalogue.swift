/// Every step a recipe may use. Nothing outside this list is ever instantiated.
public enum EffectCatalogue {
    /// The entries, in the order `vfx effects` lists them.
    public static let all: [EffectDefinition] = [
        trim, resize, crop, fps, rotate, flip, speed,
        posterize, threshold, invert, grayscale, sepia, adjust, hue, lut,
        blur, sharpen, edges, pixelate, vignette, grain, fade,
    ]

    private static let byName: [String: EffectDefinition] = Dictionary(uniqueKeysWithValues: all.map { ($0.name, $0) })

    /// The entry called `name`.
    public static func definition(_ name: String) -> EffectDefinition? { byName[name] }

    /// The entry called `name`, or an error listing the known names.
    public static func require(_ name: String) throws -> EffectDefinition {
        guard let d = byName[name] else { throw RecipeError.unknownEffect(name, known: all.map(\.name)) }
        return d
    }
}
