import Effects

extension EffectCatalogue {
    /// Reduces each RGB channel to evenly spaced levels (the seed's "banding" look).
    public static let posterize = EffectDefinition(
        name: "posterize", summary: "Reduce each RGB channel to a few evenly spaced levels (banding).", kind: .color,
        parameters: [ParameterSpec("levels", .integer(Posterize.levelRange), default: .integer(25), "Levels per channel.")],
        lowering: .color { p, _ in
            let map = ChannelMap.posterize(levels: p.int("levels")!)
            return [.curve(map.table, channelMap: map)]
        })
}
