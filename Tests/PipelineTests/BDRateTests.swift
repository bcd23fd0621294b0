import Analysis
import MediaIO
import Testing

@Suite struct BDRateTests {
    typealias P = BDRate.Point
    static func curve(_ rates: [Double], _ quality: [Double]) -> [P] { zip(rates, quality).map { P(rate: $0, quality: $1) } }

    let anchor = curve([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 36.845, 34.851])

    @Test func anEncoderAgainstItselfIsZero() {
        #expect(abs(BDRate.compute(baseline: anchor, test: anchor).percent!) < 1e-9)
    }

    @Test func everyRateScaledByNineTenthsIsMinusTenPercent() {
        let cheaper = anchor.map { P(rate: $0.rate * 0.9, quality: $0.quality) }
        #expect(abs(BDRate.compute(baseline: anchor, test: cheaper).percent! - -10) < 0.1)
        #expect(abs(BDRate.compute(baseline: anchor, test: cheaper).percent! - -10) < 1e-9)
        let dearer = anchor.map { P(rate: $0.rate * 1.25, quality: $0.quality) }
        #expect(abs(BDRate.compute(baseline: anchor, test: dearer).percent! - 25) < 1e-9)
    }

    /// Expected values from the FAU-LMS `bjontegaard` package's PCHIP method (PyPI 1.x), which
    /// reproduces the JCT-VC CTC Excel sheet (JCTVC-L1100) to ten decimals.
    @Test(arguments: [
        (curve([9487.76, 4593.60, 2486.44, 1358.24], [40.037, 38.615, 36.845, 34.851]),
         curve([9787.80, 4469.00, 2451.52, 1356.24], [40.121, 38.651, 36.970, 34.987]), -4.417485350589045),
        (curve([686.76, 309.58, 157.11, 85.95], [40.28, 37.18, 34.24, 31.42]),
         curve([893.34, 407.8, 204.93, 112.75], [40.39, 37.21, 34.17, 31.24]), 31.379878202397627),
        (curve([100, 200, 400, 800, 1600], [30, 33.1, 36.5, 39.0, 41.2]),
         curve([120, 230, 420, 900, 1500], [30.5, 33.0, 36.9, 39.5, 41.0]), 4.039887746849602),
    ])
    func knownVectorsReproduce(baseline: [P], test: [P], expected: Double) {
        let got = BDRate.compute(baseline: baseline, test: test)
        #expect(abs(got.percent! - expected) < 1e-6, "\(got)")
        #expect(got.note.isEmpty)
    }

    @Test func aPartialOverlapIsComputedOverTheOverlapAndSaidSo() {
        // Most of the range shared: a number, no remark (bjontegaard: -33.961406788763945).
        let near = Self.curve([9787.80, 4469.00, 2451.52, 1356.24], [41.121, 39.651, 37.970, 35.987])
        let got = BDRate.compute(baseline: anchor, test: near)
        #expect(abs(got.percent! - -33.961406788763945) < 1e-6)
        #expect(got.note.isEmpty)
        // Under half shared: still the number over the overlap (bjontegaard: -67.48854379873028), and a warning.
        let far = Self.curve([9787.80, 4469.00, 2451.52, 1356.24], [43.121, 41.651, 39.970, 37.987])
        let thin = BDRate.compute(baseline: anchor, test: far)
        #expect(abs(thin.percent! - -67.48854379873028) < 1e-6)
        #expect(thin.note.contains("overlap on only 40%"), "\(thin.note)")
    }

    @Test func curvesWithoutANumberSayWhy() {
        let wobbly = Self.curve([100, 200, 400, 800], [30, 34, 33, 38])
        #expect(BDRate.compute(baseline: anchor, test: wobbly) == .nonMonotonic("the tested encoder"))
        #expect(BDRate.compute(baseline: anchor, test: wobbly).note.contains("non-monotonic"))
        let apart = Self.curve([100, 200, 400, 800], [20, 22, 24, 26])
        #expect(BDRate.compute(baseline: anchor, test: apart) == .noOverlap)
        #expect(BDRate.compute(baseline: [anchor[0]], test: anchor) == .tooFewPoints("the baseline"))
    }

    @Test func laddersSpanTheEncodersRange() throws {
        #expect(ComparePlan.ladder(18...36, points: 4) == [18, 24, 30, 36])
        #expect(ComparePlan.ladder(24...56, points: 3) == [24, 40, 56])
        let plan = try ComparePlan.make(CompareRequest(input: "x", codecs: ["libsvtav1", "h264_nvenc"], presets: ["libsvtav1:10"]),
                                        opens: { $0.isHardware ? "no GPU" : nil })
        // The baseline joins the list; NVENC is listed with its reason, never dropped silently.
        #expect(plan.jobs.map(\.codec) == Array(repeating: "libx264", count: 4) + Array(repeating: "libsvtav1", count: 4))
        #expect(plan.jobs.filter { $0.codec == "libsvtav1" }.allSatisfy { $0.preset == "10" })
        #expect(plan.unavailable == [UnavailableEncoder(codec: "h264_nvenc", reason: "no GPU")])
        #expect(plan.baseline == EncodeGroup(codec: "libx264", preset: "medium"))
        // The same point asked twice is encoded once.
        let twice = try ComparePlan.make(CompareRequest(input: "x", codecs: ["libx264"], presets: ["fast", "fast"], qualities: [30, 30, 20]),
                                         opens: { _ in nil })
        #expect(twice.jobs == [EncodeJob(codec: "libx264", preset: "fast", quality: 30), EncodeJob(codec: "libx264", preset: "fast", quality: 20)])
    }

    @Test func badRequestsNameTheirField() {
        func fails(_ r: CompareRequest, _ field: String) {
            #expect(throws: CompareError.self) { try ComparePlan.make(r, opens: { _ in nil }) }
            do { _ = try ComparePlan.make(r, opens: { _ in nil }) } catch { #expect("\(error)".hasPrefix(field), "\(error)") }
        }
        fails(CompareRequest(input: "x", codecs: ["libx999"]), "--codecs")
        fails(CompareRequest(input: "x", qualities: [60]), "--crf")
        fails(CompareRequest(input: "x", ladder: 1), "--ladder")
        fails(CompareRequest(input: "x", sample: -1), "--sample")
        fails(CompareRequest(input: "x", presets: ["libx265:slow"]).with { $0.codecs = ["libx264"] }, "--presets")
        fails(CompareRequest(input: "x", presets: ["--help"]), "--presets")
        fails(CompareRequest(input: "x", presets: ["libx264:../x"]), "--presets")
        fails(CompareRequest(input: "x", presets: ["libx264:"]), "--presets")
        #expect(throws: CompareError.self) { try ComparePlan.make(CompareRequest(input: "x"), opens: { $0.name == "libx264" ? "broken" : nil }) }
    }
}

extension CompareRequest {
    func with(_ change: (inout CompareRequest) -> Void) -> CompareRequest { var c = self; change(&c); return c }
}
