extension EffectCatalogue {
    /// Unsharp-mask sharpening.
    public static let sharpen = EffectDefinition(
        name: "sharpen", summary: "Sharpen edges (unsharp mask, 5x5).", kind: .spatial,
        parameters: [ParameterSpec("amount", .number(0...5), default: .number(1), "Strength; 1 is moderate.")],
        lowering: .filter { p, _ in
            let a = p.double("amount")!.filterText
            return FilterFragment(video: [FilterNode("unsharp", [("lx", "5"), ("ly", "5"), ("la", a), ("cx", "5"), ("cy", "5"), ("ca", "0")])])
        })
}
