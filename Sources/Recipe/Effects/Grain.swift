import Effects

extension EffectCatalogue {
    /// Film grain: noise that changes every frame, drawn from each frame's time on the timeline.
    public static let grain = EffectDefinition(
        name: "grain", summary: "Film grain (noise that changes every frame).", kind: .spatial,
        parameters: [ParameterSpec("strength", .number(0...1), default: .number(0.3), "0 none, 1 heavy.")],
        lowering: .frame { p in
            // Half of libavfilter's `noise` strength scale (alls 0...60, whose uniform noise spans -s/2...s/2).
            .grain(GrainNoise(amplitude: Int((p.double("strength")! * 30).rounded()), seed: 20_261_125))
        })
}
