extension EffectCatalogue {
    /// Cuts a rectangle out of the picture.
    public static let crop = EffectDefinition(
        name: "crop", summary: "Keep a rectangle: x, y, width, height, or the largest centred one of an aspect such as 16:9.",
        kind: .preprocess,
        parameters: [
            ParameterSpec("x", .integer(0...StreamShape.maxEdge), unit: "pixels", "Left edge (default: centred)."),
            ParameterSpec("y", .integer(0...StreamShape.maxEdge), unit: "pixels", "Top edge (default: centred)."),
            ParameterSpec("width", .integer(2...StreamShape.maxEdge), unit: "pixels", "Width kept."),
            ParameterSpec("height", .integer(2...StreamShape.maxEdge), unit: "pixels", "Height kept."),
            ParameterSpec("aspect", .aspect, "Instead of a size: the largest centred rectangle of this shape."),
        ],
        rules: [.anyOf(["width", "height", "aspect"]), .excludes("aspect", ["width", "height"])],
        lowering: .filter { p, shape in
            var w = p.int("width") ?? shape.width, h = p.int("height") ?? shape.height
            if let ratio = p.string("aspect").flatMap(ParameterSpec.aspectRatio) {
                let pictureRatio = Double(shape.width) * shape.pixelAspect / Double(shape.height)
                if pictureRatio > ratio { w = Int(Double(shape.height) * ratio / shape.pixelAspect) } else { h = Int(Double(shape.width) * shape.pixelAspect / ratio) }
                w = max(2, w & ~1); h = max(2, h & ~1)
            }
            let x = p.int("x") ?? (shape.width - w) / 2, y = p.int("y") ?? (shape.height - h) / 2
            guard x + w <= shape.width, y + h <= shape.height, x >= 0, y >= 0 else {
                throw RecipeError.doesNotFit(step: "crop", reason: "\(w)x\(h) at \(x),\(y) does not fit in the \(shape.width)x\(shape.height) picture")
            }
            shape.width = w; shape.height = h
            return FilterFragment(video: [FilterNode("crop", [("w", "\(w)"), ("h", "\(h)"), ("x", "\(x)"), ("y", "\(y)"), ("exact", "1")])])
        })
}
