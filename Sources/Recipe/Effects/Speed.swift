extension EffectCatalogue {
    /// Plays faster or slower; the sound keeps its pitch.
    public static let speed = EffectDefinition(
        name: "speed", summary: "Play faster or slower; audio tempo follows without a pitch shift.", kind: .preprocess,
        parameters: [ParameterSpec("factor", .number(0.25...4), default: .number(2), "2 is twice as fast, 0.5 half speed.")],
        lowering: .filter { p, shape in
            let factor = p.double("factor")!
            shape.duration = shape.duration.map { $0 / factor }
            shape.frameRate *= factor
            // atempo keeps each stage within 0.5...2, so a factor outside it is split into stages.
            var stages: [Double] = [], rest = factor
            while rest > 2 { stages.append(2); rest /= 2 }
            while rest < 0.5 { stages.append(0.5); rest /= 0.5 }
            stages.append(rest)
            return FilterFragment(video: [FilterNode("setpts", [("expr", "PTS/\(factor.filterText)")])],
                                  audio: stages.map { FilterNode("atempo", [("tempo", $0.filterText)]) })
        },
        movesTime: true,
        retime: { p in .scale(factor: p.double("factor")!.filterValue) })
}
