import Effects

extension EffectCatalogue {
    /// The classic sepia tone, blended with the original.
    public static let sepia = EffectDefinition(
        name: "sepia", summary: "Warm brown old-photo tone.", kind: .color,
        parameters: [ParameterSpec("strength", .number(0...1), default: .number(1), "0 leaves the picture, 1 is full sepia.")],
        lowering: .color { p, _ in
            let s = p.double("strength")!
            let tone: [[Double]] = [[0.393, 0.769, 0.189], [0.349, 0.686, 0.168], [0.272, 0.534, 0.131]]
            let m = (0..<3).map { r in (0..<3).map { c in (1 - s) * (r == c ? 1 : 0) + s * tone[r][c] } }
            return [.matrix(m)]
        })
}
