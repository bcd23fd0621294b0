extension EffectCatalogue {
    /// Mirrors the picture.
    public static let flip = EffectDefinition(
        name: "flip", summary: "Mirror the picture left-right (horizontal) or top-bottom (vertical).", kind: .preprocess,
        parameters: [ParameterSpec("direction", .choice(["horizontal", "vertical"]), default: .string("horizontal"), "Which way to mirror.")],
        lowering: .filter { p, _ in
            FilterFragment(video: [FilterNode(p.string("direction") == "vertical" ? "vflip" : "hflip")])
        })
}
