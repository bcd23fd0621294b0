#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MediaIO

/// How a split job cuts its video: chunks that each start on a keyframe, with the frames each must
/// make, read from the input's packet index (no decoding).
public struct SplitPlan: Sendable, Codable, Equatable {
    /// One chunk: its window on the job's timeline and the frames whose packets fall in it.
    public struct Chunk: Sendable, Codable, Equatable {
        /// 0-based.
        public var index: Int
        public var window: FrameWindow
        public var frames: Int
        /// Its first frame's time on the timeline (the keyframe it starts on), in ``SplitPlan/timeBase``.
        public var firstPts: Int64
        /// The window in seconds on the output timeline (for messages).
        public var startSeconds: Double
        public var endSeconds: Double

        /// "chunk 3 of 6 (20.000 s to 30.000 s)".
        public func label(of count: Int) -> String {
            "chunk \(index + 1) of \(count) (\(startSeconds.fixed(3)) s to \(endSeconds.fixed(3)) s)"
        }
    }

    public var chunks: [Chunk]
    /// The input video stream's time base, which the windows and first times are in.
    public var timeBase: Rational
    public var totalFrames: Int { chunks.reduce(0) { $0 + $1.frames } }

    /// What `make` decided.
    public enum Outcome: Sendable, Codable, Equatable {
        case split(SplitPlan)
        /// The job runs unsplit, for this reason.
        case unsplit(String)
        /// The video is not long enough to split (and that is all: nothing worth a note).
        case short(String)
    }

    /// A step of the chain that cannot run on chunks, with its reason; nil when every step can.
    public static func obstacle(in steps: [ChainStep]) throws -> String? {
        for step in try Chain.resolve(steps) {
            if case .wholeOnly(let why) = step.definition.chunking { return "\(step.definition.name): \(why)" }
        }
        return nil
    }

    /// The plan for `request` in chunks of `seconds` when its video runs longer than `aboveSeconds`
    /// (the container's duration), else `.unsplit` saying so.
    public static func make(_ request: ProcessRequest, seconds: Double, above aboveSeconds: Double,
                            cancellation: CancellationFlag = CancellationFlag()) throws -> Outcome {
        let name = request.inputName ?? request.input
        let input = try InputFile(url: try InputLocation.resolve(request.input), name: name, options: request.inputOptions,
                                  cancellation: cancellation)
        guard let duration = input.duration, duration > aboveSeconds else {
            return .short("\(name) is \(input.duration.map { "\($0.fixed(1)) s" } ?? "of unknown length"), not over \(aboveSeconds.fixed(1)) s")
        }
        return try make(request, seconds: seconds, cancellation: cancellation)
    }

    /// Boundaries at k x `seconds` on the output timeline, each moved to the nearest keyframe (the
    /// earlier on a tie); chunks that would be empty go.
    public static func make(_ request: ProcessRequest, seconds: Double, cancellation: CancellationFlag = CancellationFlag()) throws -> Outcome {
        precondition(seconds > 0)
        if let obstacle = try obstacle(in: request.steps) { return .unsplit(obstacle) }
        let name = request.inputName ?? request.input
        let input = try InputFile(url: try InputLocation.resolve(request.input), name: name, options: request.inputOptions,
                                  cancellation: cancellation)
        let video = try input.bestVideoStream()
        let parameters = input.videoParameters(stream: video)
        guard input.hasTimestamps else { return .unsplit("\(name) carries no timestamps to cut by") }
        guard parameters.hdrTransfer == nil else { return .unsplit("HDR sources are not split yet (their metadata is written once per stream)") }
        let origin = input.timeline(video: video, keepAudio: request.keepAudio).start
        let offset = Rational.microseconds.rescale(origin, to: parameters.timeBase)
        let times = try input.packetTimes(stream: video)
        guard !times.isEmpty else { throw MediaError.noFramesDecoded(name) }
        guard times.allSatisfy({ $0.pts != nil }) else { return .unsplit("some of \(name)'s video packets carry no time") }
        let pts = times.map { $0.pts! - offset }.sorted()
        // The whole video's limits, from its packets (a chunk alone would see only its share).
        try request.limits.check(duration: parameters.timeBase.seconds((pts.last ?? 0) - (pts.first ?? 0)), frames: pts.count, name: name)
        let keys = Array(Set(times.filter(\.isKeyframe).map { $0.pts! - offset })).sorted()
        return plan(frames: pts, keyframes: keys, timeBase: parameters.timeBase, seconds: seconds)
    }

    /// The plan for frames and keyframes (timeline ticks, sorted) cut every `seconds`.
    static func plan(frames pts: [Int64], keyframes keys: [Int64], timeBase: Rational, seconds: Double) -> Outcome {
        guard let first = pts.first, let last = pts.last else { return .unsplit("no frames") }
        var bounds: [Int64] = []
        var k = 1
        while true {
            let target = Int64((Double(k) * seconds / timeBase.value).rounded())
            if target > last { break }
            k += 1
            // The nearest keyframe; the earlier one on a tie.
            let after = keys.firstIndex { $0 >= target } ?? keys.count
            let candidates = [after > 0 ? keys[after - 1] : nil, after < keys.count ? keys[after] : nil].compactMap { $0 }
            guard let nearest = candidates.min(by: { abs($0 - target) < abs($1 - target) || (abs($0 - target) == abs($1 - target) && $0 < $1) })
            else { continue }
            if nearest > first, nearest > (bounds.last ?? first) { bounds.append(nearest) }
        }
        guard !bounds.isEmpty else { return .unsplit("the video is shorter than two chunks (or has no keyframe to cut at)") }
        let edges: [Int64?] = [nil] + bounds.map { Optional($0) } + [nil]
        var chunks: [Chunk] = []
        for i in 0..<(edges.count - 1) {
            var window = FrameWindow(start: edges[i], end: edges[i + 1])
            let inside = pts.filter { ($0 >= (window.start ?? .min)) && ($0 < (window.end ?? .max)) }
            window.frames = inside.count
            chunks.append(Chunk(index: i, window: window, frames: inside.count, firstPts: inside.first ?? first,
                                startSeconds: timeBase.seconds(window.start ?? first),
                                endSeconds: timeBase.seconds(window.end ?? last)))
        }
        return .split(SplitPlan(chunks: chunks, timeBase: timeBase))
    }
}
