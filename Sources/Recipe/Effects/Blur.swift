extension EffectCatalogue {
    /// Gaussian blur.
    public static let blur = EffectDefinition(
        name: "blur", summary: "Gaussian blur.", kind: .spatial,
        parameters: [ParameterSpec("sigma", .number(0.1...50), default: .number(4), unit: "pixels", "Blur radius (standard deviation).")],
        lowering: .filter { p, _ in FilterFragment(video: [FilterNode("gblur", [("sigma", p.double("sigma")!.filterText)])]) })
}
