import Effects

extension EffectCatalogue {
    /// Rec. 709 luma weights, shared by grayscale and adjust's saturation.
    static let lumaWeights = SIMD3(0.2126, 0.7152, 0.0722)

    /// Each pixel's RGB moved toward (s < 1) or away from (s > 1) its luma.
    static func saturation(_ s: Double) -> ColorOp {
        let w = lumaWeights
        return .mix { p in
            let y = (p * w).sum()
            return SIMD3(repeating: y) + (p - SIMD3(repeating: y)) * s
        }
    }

    /// Shades of grey by Rec. 709 luma.
    public static let grayscale = EffectDefinition(
        name: "grayscale", summary: "Shades of grey (Rec. 709 luma of the RGB).", kind: .color,
        lowering: .color { _, _ in [saturation(0)] })
}
