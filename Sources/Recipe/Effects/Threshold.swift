import Effects

extension EffectCatalogue {
    /// Sends each RGB channel to black or white around a cut-off.
    public static let threshold = EffectDefinition(
        name: "threshold", summary: "Each RGB channel above the level becomes 255, the rest 0.", kind: .color,
        parameters: [ParameterSpec("level", .number(0...1), default: .number(0.5), "Cut-off as a fraction of full scale.")],
        lowering: .color { p, _ in
            let map = ChannelMap.threshold(cut: p.double("level")! * 255)
            return [.curve(map.table, channelMap: map)]
        })
}
