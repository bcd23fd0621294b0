extension EffectCatalogue {
    /// Film grain: temporal noise.
    public static let grain = EffectDefinition(
        name: "grain", summary: "Film grain (noise that changes every frame).", kind: .spatial,
        parameters: [ParameterSpec("strength", .number(0...1), default: .number(0.3), "0 none, 1 heavy.")],
        lowering: .filter { p, _ in
            let s = Int((p.double("strength")! * 60).rounded())
            return FilterFragment(video: [FilterNode("noise", [("alls", "\(s)"), ("allf", "t+u"), ("all_seed", "20261125")])])
        },
        chunking: .wholeOnly("its noise follows the sequence of frames from the first (libavfilter's noise filter keeps one random state)"))
}
