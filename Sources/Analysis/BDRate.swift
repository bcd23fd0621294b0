#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Bjøntegaard-delta rate: how much more (positive) or less (negative) bitrate one encoder needs
/// than a baseline for the same quality, averaged over the quality range both curves cover.
///
/// Method: piecewise cubic Hermite interpolation (PCHIP) of log-rate as a function of quality, as in
/// the JCT-VC common test conditions sheet (JCTVC-L1100) and the AOM CTC, integrated exactly over the
/// overlap of the two quality ranges.
public enum BDRate {
    /// A short name of the method, for reports.
    public static let method = "BD-rate: piecewise cubic (PCHIP) interpolation of log-rate over the overlapping quality range (JCTVC-L1100, AOM CTC)"

    /// One rate-quality point.
    public struct Point: Sendable, Equatable {
        public var rate: Double
        public var quality: Double
        public init(rate: Double, quality: Double) { self.rate = rate; self.quality = quality }
    }

    /// What the computation gave: a percentage, or why there is none.
    public enum Outcome: Sendable, Equatable {
        /// Percent more bitrate than the baseline (negative: a saving); `overlap` is the share of the
        /// wider of the two quality ranges the curves have in common (0...1).
        case percent(Double, overlap: Double)
        /// Too few distinct points on a curve.
        case tooFewPoints(String)
        /// Quality does not rise with rate on a curve.
        case nonMonotonic(String)
        /// The curves' quality ranges do not overlap.
        case noOverlap

        public var percent: Double? { if case let .percent(p, _) = self { return p } else { return nil } }

        /// A sentence for the report (empty for an unremarkable number).
        public var note: String {
            switch self {
            case let .percent(_, overlap) where overlap < 0.75:
                return "curves overlap on only \(Int((overlap * 100).rounded()))% of their quality range"
            case .percent: return ""
            case let .tooFewPoints(who): return "\(who) has fewer than 2 usable points"
            case let .nonMonotonic(who): return "\(who): quality does not rise with bitrate (non-monotonic curve), no BD-rate"
            case .noOverlap: return "the curves' quality ranges do not overlap, no BD-rate"
            }
        }
    }

    /// BD-rate of `test` against `baseline`.
    public static func compute(baseline: [Point], test: [Point]) -> Outcome {
        let a: Curve, b: Curve
        switch Curve.make(baseline, "the baseline") { case let .success(c): a = c; case let .failure(o): return o.outcome }
        switch Curve.make(test, "the tested encoder") { case let .success(c): b = c; case let .failure(o): return o.outcome }
        let low = max(a.x.first!, b.x.first!), high = min(a.x.last!, b.x.last!)
        guard high > low else { return .noOverlap }
        let span = max(a.x.last! - a.x.first!, b.x.last! - b.x.first!)
        let meanDifference = (b.integral(low, high) - a.integral(low, high)) / (high - low)
        return .percent((pow10(meanDifference) - 1) * 100, overlap: (high - low) / span)
    }

    private struct Failure: Error { let outcome: Outcome }

    /// log10(rate) as a PCHIP function of quality.
    private struct Curve {
        let x: [Double]  // quality, strictly rising
        let y: [Double]  // log10(rate)
        let d: [Double]  // slopes at the knots

        static func make(_ points: [Point], _ who: String) -> Result<Curve, Failure> {
            let usable = points.filter { $0.rate > 0 && $0.rate.isFinite && $0.quality.isFinite }.sorted { $0.rate < $1.rate }
            guard usable.count >= 2 else { return .failure(Failure(outcome: .tooFewPoints(who))) }
            for (p, q) in zip(usable, usable.dropFirst()) where !(q.quality > p.quality && q.rate > p.rate) {
                return .failure(Failure(outcome: .nonMonotonic(who)))
            }
            let x = usable.map(\.quality), y = usable.map { log10($0.rate) }
            return .success(Curve(x: x, y: y, d: slopes(x, y)))
        }

        /// Fritsch–Carlson slopes: weighted harmonic means inside, a shape-preserving three-point rule at the ends.
        static func slopes(_ x: [Double], _ y: [Double]) -> [Double] {
            let n = x.count
            let h = (0..<n - 1).map { x[$0 + 1] - x[$0] }
            let m = (0..<n - 1).map { (y[$0 + 1] - y[$0]) / h[$0] }
            if n == 2 { return [m[0], m[0]] }
            var d = [Double](repeating: 0, count: n)
            for k in 1..<n - 1 where m[k - 1] * m[k] > 0 {
                let w1 = 2 * h[k] + h[k - 1], w2 = h[k] + 2 * h[k - 1]
                d[k] = (w1 + w2) / (w1 / m[k - 1] + w2 / m[k])
            }
            func end(_ h0: Double, _ h1: Double, _ m0: Double, _ m1: Double) -> Double {
                var e = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
                if e * m0 <= 0 { e = 0 } else if m0 * m1 < 0 && abs(e) > abs(3 * m0) { e = 3 * m0 }
                return e
            }
            d[0] = end(h[0], h[1], m[0], m[1])
            d[n - 1] = end(h[n - 2], h[n - 3], m[n - 2], m[n - 3])
            return d
        }

        /// The cubic of piece `k` (between knots k and k+1) at `t`.
        func value(piece k: Int, _ t: Double) -> Double {
            let h = x[k + 1] - x[k], s = (t - x[k]) / h
            let h00 = (1 + 2 * s) * (1 - s) * (1 - s), h10 = s * (1 - s) * (1 - s)
            let h01 = s * s * (3 - 2 * s), h11 = s * s * (s - 1)
            return h00 * y[k] + h10 * h * d[k] + h01 * y[k + 1] + h11 * h * d[k + 1]
        }

        /// The exact integral from `a` to `b`: Simpson's rule is exact on each cubic piece.
        func integral(_ a: Double, _ b: Double) -> Double {
            var total = 0.0
            for k in 0..<x.count - 1 {
                let lo = max(a, x[k]), hi = min(b, x[k + 1])
                guard hi > lo else { continue }
                total += (hi - lo) / 6 * (value(piece: k, lo) + 4 * value(piece: k, (lo + hi) / 2) + value(piece: k, hi))
            }
            return total
        }
    }

    private static func pow10(_ v: Double) -> Double { pow(10, v) }
}
