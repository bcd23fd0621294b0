extension EffectCatalogue {
    /// Large square blocks.
    public static let pixelate = EffectDefinition(
        name: "pixelate", summary: "Big square pixels (mosaic).", kind: .spatial,
        parameters: [ParameterSpec("size", .integer(2...256), default: .integer(16), unit: "pixels", "Block edge.")],
        lowering: .filter { p, shape in
            let size = p.int("size")!
            let w = max(1, (shape.width + size / 2) / size), h = max(1, (shape.height + size / 2) / size)
            return FilterFragment(video: [
                FilterNode("scale", [("w", "\(w)"), ("h", "\(h)"), ("flags", "area")]),
                FilterNode("scale", [("w", "\(shape.width)"), ("h", "\(shape.height)"), ("flags", "neighbor")]),
            ])
        })
}
