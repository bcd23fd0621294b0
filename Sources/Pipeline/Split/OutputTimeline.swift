import MediaIO
import Recipe

/// The output's frames of a chain that moves frames in time, computed from the source's frame times as
/// the steps' filters compute them (trim's frame test and `setpts` arithmetic, fps's slots), so that a
/// split job can cut the output's timeline and know each chunk's frames before anything is decoded.
struct OutputTimeline {
    /// Each output frame's time, in ``timeBase``, strictly increasing (as the encoder is given them).
    private(set) var pts: [Int64]
    /// The source frame (an index into the source times) each output frame shows.
    private(set) var source: [Int]
    private(set) var timeBase: Rational
    /// Where the steps mark the end of the stream: the last frame's time, or a trim's end when it cut
    /// frames (what fps fills its last slots up to).
    private(set) var eof: Int64

    init(source times: [Int64], timeBase: Rational, retimings: [Retiming]) {
        pts = times; source = Array(times.indices); self.timeBase = timeBase
        eof = times.last ?? 0
        for retiming in retimings { apply(retiming) }
        // The encoder is given strictly increasing times: a duplicate moves one tick on.
        for i in pts.indices.dropFirst() where pts[i] <= pts[i - 1] { pts[i] = pts[i - 1] + 1 }
    }

    private mutating func apply(_ retiming: Retiming) {
        switch retiming {
        case .cut(let start, let stop):
            // trim: the bounds in this time base as its options give them; then setpts=PTS-start/TB, truncated.
            let from = Rational.microseconds.rescale(Int64((start * 1_000_000).rounded()), to: timeBase)
            let to = stop.map { Rational.microseconds.rescale(Int64(($0 * 1_000_000).rounded()), to: timeBase) }
            let kept = pts.indices.filter { pts[$0] >= from && pts[$0] < (to ?? .max) }
            let tb = timeBase.value
            let shift = { (p: Int64) in Int64(Double(p) - start / tb) }
            if let to, let lastTime = pts.last, lastTime >= to { eof = to }
            eof = shift(eof)
            source = kept.map { source[$0] }
            pts = kept.map { shift(pts[$0]) }
        case .scale(let factor):
            pts = pts.map { Int64(Double($0) / factor) }
            eof = Int64(Double(eof) / factor)
        case .resample(let rate):
            // fps: time base 1/rate; slot k shows the latest frame whose time, rounded to a slot, is at most k;
            // slots run from the first frame's up to where the end of the stream is marked.
            let slotBase = Rational.approximating(rate, maximum: 1_001_000).inverse
            let rounded = pts.map { timeBase.rescale($0, to: slotBase) }
            let last = timeBase.rescale(eof, to: slotBase)
            var slots: [Int64] = [], shown: [Int] = []
            if var k = rounded.first {
                var i = 0
                while k < last {
                    while i + 1 < rounded.count && rounded[i + 1] <= k { i += 1 }
                    slots.append(k); shown.append(source[i])
                    k += 1
                }
            }
            pts = slots; source = shown; timeBase = slotBase; eof = slots.last ?? last
        }
    }

    /// The first output frame made from source frame `index` or a later one.
    func firstFrame(fromSourceAtLeast index: Int) -> Int? {
        var lo = 0, hi = source.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if source[mid] < index { lo = mid + 1 } else { hi = mid }
        }
        return lo < source.count ? lo : nil
    }
}
