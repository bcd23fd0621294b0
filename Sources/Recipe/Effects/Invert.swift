import Effects

extension EffectCatalogue {
    /// The photographic negative.
    public static let invert = EffectDefinition(
        name: "invert", summary: "Negative: each RGB channel becomes 255 minus itself.", kind: .color,
        lowering: .color { _, _ in [.curve((0...255).map { 255 - UInt8($0) }, channelMap: .affine(scale: -1, offset: 255))] })
}
