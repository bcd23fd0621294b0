extension EffectCatalogue {
    /// Keeps a stretch of the video, frame-accurate, with the audio cut to match.
    public static let trim = EffectDefinition(
        name: "trim", summary: "Keep the part between start and end (or start plus duration); audio cut to match.", kind: .preprocess,
        parameters: [
            ParameterSpec("start", .number(0...86_400), default: .number(0), unit: "seconds", "First moment kept."),
            ParameterSpec("end", .number(0...86_400), unit: "seconds", "First moment dropped (default: the end)."),
            ParameterSpec("duration", .number(0.001...86_400), unit: "seconds", "How long to keep (instead of end)."),
        ],
        rules: [.excludes("duration", ["end"])],
        lowering: .filter { p, shape in
            let start = p.double("start")!
            // A comparison of two values is no rule a schema can state: it is checked when the step is planned.
            if let end = p.double("end"), end <= start {
                throw RecipeError.doesNotFit(step: "trim", reason: "end=\(end.shortText) must be after start (\(start.shortText)): the trim keeps nothing")
            }
            let end = p.double("end") ?? p.double("duration").map { start + $0 }
            if let total = shape.duration, start >= total {
                throw RecipeError.doesNotFit(step: "trim", reason: "start \(start.shortText) s is at or after the end of the video (\(total.shortText) s)")
            }
            var keep = [("start", start.filterText)]
            if let end { keep.append(("end", end.filterText)) }
            let newEnd = [end, shape.duration].compactMap { $0 }.min()
            shape.duration = newEnd.map { $0 - start }
            // The same shift for both, so sound stays on its picture; PTS-STARTPTS would differ per stream.
            let shift = [("expr", "PTS-\(start.filterText)/TB")]
            return FilterFragment(video: [FilterNode("trim", keep), FilterNode("setpts", shift)],
                                  audio: [FilterNode("atrim", keep), FilterNode("asetpts", shift)])
        },
        readHint: { p in
            let start = p.double("start")!
            return .window(start: start, end: p.double("end") ?? p.double("duration").map { start + $0 })
        },
        movesTime: true,
        retime: { p in
            let start = p.double("start")!, end = p.double("end") ?? p.double("duration").map { start + $0 }
            return .cut(start: start.filterValue, end: end?.filterValue)
        })
}

extension Double {
    /// The value a filter reads from ``filterText`` (what a split job's plan must compute with).
    var filterValue: Double { Double(filterText) ?? self }

    /// A plain decimal libavfilter reads back exactly (no exponent).
    var filterText: String {
        if self == rounded() && abs(self) < 1e15 { return "\(Int(self))" }
        var s = ""
        let scaled = (self * 1_000_000_000).rounded()
        let whole = Int(scaled) / 1_000_000_000, frac = abs(Int(scaled)) % 1_000_000_000
        s = (self < 0 && whole == 0 ? "-" : "") + "\(whole)"
        if frac > 0 {
            var digits = String(frac)
            digits = String(repeating: "0", count: 9 - digits.count) + digits
            while digits.hasSuffix("0") { digits.removeLast() }
            s += "." + digits
        }
        return s
    }
}
