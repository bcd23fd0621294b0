extension EffectCatalogue {
    /// Fades from and to black (and silence).
    public static let fade = EffectDefinition(
        name: "fade", summary: "Fade in from black and/or out to black; the sound fades with it.", kind: .spatial,
        parameters: [
            ParameterSpec("in", .number(0...600), default: .number(1), unit: "seconds", "Fade-in length (0: none)."),
            ParameterSpec("out", .number(0...600), default: .number(1), unit: "seconds", "Fade-out length (0: none)."),
        ],
        lowering: .filter { p, shape in
            let fadeIn = p.double("in")!, fadeOut = p.double("out")!
            var video: [FilterNode] = [], audio: [FilterNode] = []
            if fadeIn > 0 {
                video.append(FilterNode("fade", [("t", "in"), ("st", "0"), ("d", fadeIn.filterText)]))
                audio.append(FilterNode("afade", [("t", "in"), ("st", "0"), ("d", fadeIn.filterText)]))
            }
            if fadeOut > 0 {
                guard let total = shape.duration else { throw RecipeError.doesNotFit(step: "fade", reason: "out needs a video whose duration is known") }
                let start = max(0, total - fadeOut).filterText
                video.append(FilterNode("fade", [("t", "out"), ("st", start), ("d", fadeOut.filterText)]))
                audio.append(FilterNode("afade", [("t", "out"), ("st", start), ("d", fadeOut.filterText)]))
            }
            return FilterFragment(video: video, audio: audio)
        })
}
