extension EffectCatalogue {
    /// Darkened corners.
    public static let vignette = EffectDefinition(
        name: "vignette", summary: "Darken the corners.", kind: .spatial,
        parameters: [ParameterSpec("strength", .number(0...1), default: .number(0.5), "0 none, 1 strongest.")],
        lowering: .filter { p, _ in
            // The filter's lens angle: 0 (no falloff) to pi/2 (strongest).
            let angle = p.double("strength")! * Double.pi / 2
            // Without dither: libavfilter's dither draws from one random sequence across frames, so a
            // frame's result would depend on every frame before it (and a chunk of a split job would differ).
            return FilterFragment(video: [FilterNode("vignette", [("angle", angle.filterText), ("dither", "0")])])
        })
}
