extension EffectCatalogue {
    /// Turns the picture clockwise by a quarter, half or three quarters.
    public static let rotate = EffectDefinition(
        name: "rotate", summary: "Turn the picture clockwise by 90, 180 or 270 degrees.", kind: .preprocess,
        parameters: [ParameterSpec("angle", .choice(["90", "180", "270"]), default: .string("90"), unit: "degrees", "Clockwise turn.")],
        lowering: .filter { p, shape in
            switch p.string("angle") {
            case "180": return FilterFragment(video: [FilterNode("hflip"), FilterNode("vflip")])
            case let angle:
                (shape.width, shape.height) = (shape.height, shape.width)
                shape.pixelAspect = 1 / shape.pixelAspect
                return FilterFragment(video: [FilterNode("transpose", [("dir", angle == "90" ? "clock" : "cclock")])])
            }
        })
}
