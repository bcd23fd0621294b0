extension EffectCatalogue {
    /// Edge detection (Canny), as white lines on black.
    public static let edges = EffectDefinition(
        name: "edges", summary: "White edges on black (Canny edge detection).", kind: .spatial,
        lowering: .filter { _, _ in FilterFragment(video: [FilterNode("edgedetect", [("low", "0.1"), ("high", "0.3")])]) })
}
