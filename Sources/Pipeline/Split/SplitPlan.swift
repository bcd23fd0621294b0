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
        /// The frames it makes (its window's count, which the plan always sets).
        public var frames: Int { window.frames ?? 0 }
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
        return try make(request, seconds: seconds, input: input)
    }

    /// Boundaries at k x `seconds` on the output timeline, each moved to the nearest keyframe (the
    /// earlier on a tie); chunks that would be empty go.
    public static func make(_ request: ProcessRequest, seconds: Double, cancellation: CancellationFlag = CancellationFlag()) throws -> Outcome {
        let input = try InputFile(url: try InputLocation.resolve(request.input), name: request.inputName ?? request.input,
                                  options: request.inputOptions, cancellation: cancellation)
        return try make(request, seconds: seconds, input: input)
    }

    private static func make(_ request: ProcessRequest, seconds: Double, input: InputFile) throws -> Outcome {
        precondition(seconds > 0)
        if let obstacle = try obstacle(in: request.steps) { return .unsplit(obstacle) }
        let name = request.inputName ?? request.input
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
        let retimings = try Chain.resolve(request.steps).compactMap { step in step.definition.retime?(step.parameters) }
        return plan(frames: pts, keyframes: keys, timeBase: parameters.timeBase, seconds: seconds, retimings: retimings)
    }

    /// The plan for source frames and keyframes (timeline ticks, sorted) cut every `seconds` of the
    /// output's timeline, which `retimings` make from the source's (as the steps' filters do).
    static func plan(frames pts: [Int64], keyframes keys: [Int64], timeBase: Rational, seconds: Double,
                     retimings: [Retiming] = []) -> Outcome {
        guard !pts.isEmpty else { return .unsplit("no frames") }
        let out = OutputTimeline(source: pts, timeBase: timeBase, retimings: retimings)
        guard let first = out.pts.first, let last = out.pts.last else { return .unsplit("the steps keep no frame") }
        let index = Dictionary(pts.enumerated().map { ($1, $0) }, uniquingKeysWith: { a, _ in a })
        // Where a chunk may start: the first output frame made from a source keyframe or after it.
        var starts: [(output: Int, key: Int)] = []
        for key in keys {
            guard let k = index[key], let j = out.firstFrame(fromSourceAtLeast: k), j > 0, starts.last?.output != j else { continue }
            starts.append((j, k))
        }
        var bounds: [(output: Int, key: Int)] = []
        var k = 1
        while true {
            let target = first + Int64((Double(k) * seconds / out.timeBase.value).rounded())
            if target > last { break }
            k += 1
            // The nearest keyframe's start; the earlier one on a tie.
            let after = starts.firstIndex { out.pts[$0.output] >= target } ?? starts.count
            let candidates = [after > 0 ? starts[after - 1] : nil, after < starts.count ? starts[after] : nil].compactMap { $0 }
            guard let nearest = candidates.min(by: { a, b in
                let da = abs(out.pts[a.output] - target), db = abs(out.pts[b.output] - target)
                return da < db || (da == db && a.output < b.output)
            }) else { continue }
            if nearest.output > (bounds.last?.output ?? 0) { bounds.append(nearest) }
        }
        guard !bounds.isEmpty else { return .unsplit("the video is shorter than two chunks (or has no keyframe to cut at)") }
        let edges: [(output: Int, key: Int)?] = [nil] + bounds.map { Optional($0) } + [nil]
        var chunks: [Chunk] = []
        for i in 0..<(edges.count - 1) {
            let from = edges[i]?.output ?? 0, to = edges[i + 1]?.output ?? out.pts.count
            // Decoding runs two frames past the next chunk's keyframe: fps decides a slot by the frame after it.
            let decodeEnd = edges[i + 1].flatMap { $0.key + 2 < pts.count ? pts[$0.key + 2] : nil }
            let window = FrameWindow(start: edges[i].map { pts[$0.key] }, end: decodeEnd, frames: to - from,
                                     keepStart: edges[i].map { out.pts[$0.output] }, keepEnd: edges[i + 1].map { out.pts[$0.output] })
            chunks.append(Chunk(index: i, window: window, firstPts: out.pts[from],
                                startSeconds: out.timeBase.seconds(out.pts[from] - first),
                                endSeconds: out.timeBase.seconds((to < out.pts.count ? out.pts[to] : last) - first)))
        }
        return .split(SplitPlan(chunks: chunks, timeBase: out.timeBase))
    }
}
