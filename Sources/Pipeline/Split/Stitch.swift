#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MediaIO

/// The last step of a split job: the chunks' video copied packet for packet, in chunk order, each
/// chunk's packet count checked against its plan, and the input's audio processed once, whole, through
/// the same routes an unsplit run uses; one container index at the end (MP4's at the front).
public enum Stitch {
    /// One chunk as it was written.
    public struct Part: Sendable, Codable, Equatable {
        public var path: String
        public var frames: Int
        public var label: String
        /// Where its first frame belongs on the timeline, in `timeBase`.
        public var firstPts: Int64
        public var timeBase: Rational
        public init(path: String, frames: Int, label: String, firstPts: Int64, timeBase: Rational) {
            self.path = path; self.frames = frames; self.label = label; self.firstPts = firstPts; self.timeBase = timeBase
        }
    }

    /// What the stitch wrote.
    public struct Result: Sendable {
        public var frames: Int
        public var audio: [StreamReport]
    }

    /// A chunk that does not hold what its plan says (the caller runs the job unsplit instead).
    public struct Mismatch: Error, CustomStringConvertible {
        public var description: String
    }

    /// Writes `request.output` (under a temporary name, renamed when every check passed) from `parts`.
    public static func join(_ parts: [Part], request: ProcessRequest, cancellation: CancellationFlag,
                            onLog: @escaping (String) -> Void) throws -> Result {
        let outputName = request.outputName ?? request.output
        let container = try OutputContainer(path: request.output)
        let temp = try Runner.temporaryPath(for: request.output)
        TemporaryFiles.register(temp)
        defer { TemporaryFiles.unregister(temp) }
        do {
            let (result, timing) = try write(parts, to: temp, container: container, request: request,
                                             cancellation: cancellation, onLog: onLog)
            try Runner.verifyTiming(path: temp, name: outputName, timing)
            if cancellation.isCancelled { throw MediaError.cancelled }
            if rename(temp, request.output) != 0 {
                throw MediaError.outputNotWritable(path: request.output, reason: String(cString: strerror(errno)))
            }
            return result
        } catch {
            unlink(temp)
            throw error
        }
    }

    private static func write(_ parts: [Part], to path: String, container: OutputContainer, request: ProcessRequest,
                              cancellation: CancellationFlag, onLog: @escaping (String) -> Void) throws -> (Result, Runner.TimingExpectation) {
        let inputName = request.inputName ?? request.input
        let outputName = request.outputName ?? request.output
        let source = try InputFile(url: try InputLocation.resolve(request.input), name: inputName, options: request.inputOptions,
                                   cancellation: cancellation)
        let sourceVideo = try source.bestVideoStream()
        let output = try OutputFile(path: path, name: outputName, formatName: container.muxer)
        guard let firstPart = parts.first else { throw Mismatch(description: "no chunks") }

        // Video: the first chunk's stream parameters (every chunk's encoder had the same settings), in
        // the time base the encoders worked in: the steps' output time base, which the plan computed.
        var reader = try ChunkReader(firstPart)
        let videoOut = try output.addCopiedStream(from: reader.input, stream: reader.stream, timeBase: firstPart.timeBase)
        try output.copyDisplayMatrix(from: source, stream: sourceVideo, to: videoOut)
        if let timecode = source.tag("timecode") { output.setTag("timecode", timecode, stream: videoOut) }

        // Audio: the whole input's, once, through the routes and steps an unsplit run would use.
        let (shape, _, _) = source.plannedShape(stream: sourceVideo)
        let plan = try Planner.plan(try Chain.resolve(request.steps), shape: shape, resources: request.resources)
        let (origin, audioIndices, skipped) = source.timeline(video: sourceVideo, keepAudio: request.keepAudio)
        for line in skipped { onLog("warning: " + line) }
        let originSeconds = Rational.microseconds.seconds(origin)
        var routes: [Int: AudioRoute] = [:]
        for index in audioIndices {
            routes[index] = try AudioRoute(input: source, stream: index, output: output, container: container,
                                           startTime: origin, steps: plan.audio, log: onLog)
        }
        try output.writeHeader(fastStart: container.fastStart)

        var written = 0
        var partIndex = 0
        var shift: Int64 = 0
        // Matroska stores presentation times only: its reader guesses decoding times for some packets and
        // not others, so the muxer derives them all afresh (Matroska writes none anyway).
        let keepsDecodingTimes = !["matroska", "webm"].contains(container.muxer)
        var firstPts: Double?, lastEnd = 0.0, frameSeconds = 0.0
        // Writes the next video packet; false when every chunk is used up.
        func writeVideo() throws -> Bool {
            while true {
                if let packet = try reader.next() {
                    if reader.count == 1 {
                        guard packet.isKeyframe, let pts = packet.pts else {
                            throw Mismatch(description: "\(parts[partIndex].label) does not start with a timed keyframe")
                        }
                        // A chunk's file may start its timestamps at zero (MP4 without an edit list): its first
                        // frame, a keyframe and the earliest, goes where the plan put it, the rest with it.
                        shift = pts - parts[partIndex].timeBase.rescale(parts[partIndex].firstPts, to: reader.timeBase)
                    }
                    packet.shift(by: shift)
                    let tb = reader.timeBase
                    if let pts = packet.pts {
                        firstPts = min(firstPts ?? .infinity, tb.seconds(pts))
                        lastEnd = max(lastEnd, tb.seconds(pts + max(packet.duration, 1)))
                        frameSeconds = tb.seconds(max(packet.duration, 1))
                    }
                    if !keepsDecodingTimes { packet.clearDecodingTime() }
                    packet.route(toOutputStream: videoOut)
                    try output.write(packet, timeBase: tb)
                    written += 1
                    return true
                }
                guard reader.count == parts[partIndex].frames else {
                    throw Mismatch(description: "\(parts[partIndex].label) holds \(reader.count) frames where its plan says \(parts[partIndex].frames)")
                }
                partIndex += 1
                guard partIndex < parts.count else { return false }
                reader = try ChunkReader(parts[partIndex])
            }
        }

        // Interleaved by time: before each audio packet, the video up to its time.
        let packet = try Packet()
        var videoLeft = true
        reading: while !routes.isEmpty {
            if cancellation.isCancelled { throw MediaError.cancelled }
            switch try source.read(into: packet) {
            case .endOfFile: break reading
            case .corrupt(let message):
                onLog("warning: \(inputName) ends early: \(message); processed what decoded")
                break reading
            case .packet: break
            }
            defer { packet.unref() }
            guard let route = routes[packet.streamIndex] else { continue }
            let t = packet.pts.map { route.inputTimeBase.seconds($0) - originSeconds } ?? 0
            while videoLeft, reader.nextTime.map({ $0 <= t }) ?? true {
                videoLeft = try writeVideo()
            }
            try route.handle(packet, write: output.write)
        }
        while videoLeft { videoLeft = try writeVideo() }
        for route in routes.values where !route.isCopy { try route.handle(nil, write: output.write) }
        try output.finish()

        let starts = [firstPts ?? 0] + routes.values.compactMap(\.start)
        let ends = [lastEnd] + routes.values.map(\.end)
        let timing = Runner.TimingExpectation(start: starts.min()!, end: ends.max()!, tolerance: 0.25 + 2 * frameSeconds)
        return (Result(frames: written, audio: audioIndices.compactMap { routes[$0]?.report }), timing)
    }
}

/// Reads one chunk's video packets in order, one ahead, so the stitch knows the next one's time. Two
/// packets take turns: the one handed out stays whole until the call after next reuses it.
private struct ChunkReader {
    let input: InputFile
    let stream: Int
    let timeBase: Rational
    private var ahead: Packet
    private var spare: Packet
    private var hasAhead = false
    private(set) var count = 0

    init(_ part: Stitch.Part) throws {
        input = try InputFile(url: part.path, name: part.label, options: InputOptions(protocolWhitelist: "file"))
        stream = try input.bestVideoStream()
        timeBase = input.timeBase(of: stream)
        ahead = try Packet()
        spare = try Packet()
        hasAhead = try read(into: ahead)
    }

    /// The next packet's presentation time in seconds on the timeline, or nil at the chunk's end.
    var nextTime: Double? { hasAhead ? ahead.pts.map { timeBase.seconds($0) } : nil }

    mutating func next() throws -> Packet? {
        guard hasAhead else { return nil }
        swap(&ahead, &spare)
        hasAhead = try read(into: ahead)
        count += 1
        return spare
    }

    private func read(into packet: Packet) throws -> Bool {
        packet.unref()
        while true {
            switch try input.read(into: packet) {
            case .endOfFile: return false
            case .corrupt(let message): throw Stitch.Mismatch(description: "\(input.name) cannot be read back: \(message)")
            case .packet:
                if packet.streamIndex == stream { return true }
                packet.unref()
            }
        }
    }
}
