extension EffectCatalogue {
    /// Changes the frame rate by dropping or repeating frames.
    public static let fps = EffectDefinition(
        name: "fps", summary: "Change the frame rate by dropping or repeating frames (the duration stays).", kind: .preprocess,
        parameters: [ParameterSpec("rate", .number(1...240), required: true, unit: "frames/second", "Output frame rate.")],
        lowering: .filter { p, shape in
            let rate = p.double("rate")!
            shape.frameRate = rate
            return FilterFragment(video: [FilterNode("fps", [("fps", rate.filterText)])])
        },
        retime: { p in .resample(rate: p.double("rate")!.filterValue) })
}
