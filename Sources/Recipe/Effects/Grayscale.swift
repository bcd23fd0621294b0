import Effects

extension EffectCatalogue {
    /// Rec. 709 luma weights, shared by grayscale and adjust's saturation.
    static let lumaWeights = SIMD3(0.2126, 0.7152, 0.0722)

    /// Each pixel's RGB moved toward (s < 1) or away from (s > 1) its luma.
    static func saturation(_ s: Double) -> ColorOp {
        // out = y + s * (p - y), y = w . p: a matrix s * I + (1 - s) * [w; w; w].
        let w = lumaWeights
        return .matrix((0..<3).map { r in (0..<3).map { c in (r == c ? s : 0) + (1 - s) * w[c] } })
    }

    /// Shades of grey by Rec. 709 luma.
    public static let grayscale = EffectDefinition(
        name: "grayscale", summary: "Shades of grey (Rec. 709 luma of the RGB).", kind: .color,
        lowering: .color { _, _ in [saturation(0)] })
}
