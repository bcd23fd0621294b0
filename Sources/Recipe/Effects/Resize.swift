extension EffectCatalogue {
    /// Scales to a width and/or height; the other follows the picture's shape.
    public static let resize = EffectDefinition(
        name: "resize", summary: "Scale to a width and/or height (the other follows the aspect); fit=inside fits a box.",
        kind: .preprocess,
        parameters: [
            ParameterSpec("width", .integer(16...StreamShape.maxEdge), unit: "pixels", "Output width."),
            ParameterSpec("height", .integer(16...StreamShape.maxEdge), unit: "pixels", "Output height."),
            ParameterSpec("fit", .choice(["exact", "inside"]), default: .string("exact"),
                          "exact: the size given (both, or one with the aspect kept); inside: the largest that fits width x height with the aspect kept."),
        ],
        rules: [.anyOf(["width", "height"]), .whenEquals("fit", "inside", requires: ["width", "height"])],
        lowering: .filter { p, shape in
            let aspect = Double(shape.width) * shape.pixelAspect / Double(shape.height)
            var w = p.int("width").map(Double.init), h = p.int("height").map(Double.init)
            if p.string("fit") == "inside", let bw = w, let bh = h {
                if bw / bh > aspect { w = bh * aspect } else { h = bw / aspect }
            }
            let width = even(w ?? h! * aspect), height = even(h ?? w! / aspect)
            shape.width = width; shape.height = height; shape.pixelAspect = 1
            return FilterFragment(video: [FilterNode("scale", [("w", "\(width)"), ("h", "\(height)"), ("flags", "bicubic")]),
                                          FilterNode("setsar", [("sar", "1")])])
        })

    /// The nearest even size, at least 2 and at most the edge limit.
    static func even(_ x: Double) -> Int { min(StreamShape.maxEdge, max(2, Int((x / 2).rounded()) * 2)) }
}
