import Effects

extension EffectCatalogue {
    /// The photographic negative.
    public static let invert = EffectDefinition(
        name: "invert", summary: "Negative: each RGB channel becomes 255 minus itself.", kind: .color,
        lowering: .color { _, _ in [.curve(line: .affine(scale: -1, offset: 255)!)] })
}
