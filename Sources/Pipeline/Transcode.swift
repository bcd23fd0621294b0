#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MediaIO

/// One pass of a job over its input, in FFmpeg's canonical shape (fftools): the demuxer's packets go
/// to the video decoder or an audio route; decoded frames, their timestamps with them, go through the
/// steps (``VideoStages``) to the encoder, which opens from the first frame the steps give; packets go
/// to the muxer. At the end the decoder, the steps and the encoder are drained, then the trailer is
/// written once. A leading trim may seek first; when the seek misses, the pass says so and the runner
/// reads from the start instead.
final class Transcode {
    /// How a pass ended.
    enum Outcome {
        case finished(ProcessResult, Runner.TimingExpectation)
        /// A seek for a leading trim failed or landed after the trim's start: read from the beginning.
        case seekMissed
    }

    private unowned let runner: Runner
    private var request: ProcessRequest { runner.request }
    private let inputName: String, outputName: String
    private let started = Date()
    private(set) var warnings: [String] = []

    // Demux.
    private let input: InputFile
    private let videoIndex: Int
    private let video: VideoParameters
    private let videoOffset: Int64
    private let readStreams: Set<Int>
    private let startSeconds: Double
    private var seekedTo: Double?
    private var readUntil: Double?
    private var beyondEnd = Set<Int>()
    private var seekMissed = false
    private var windowEnded = false

    // Decode.
    private let decoder: Decoder
    private var decode: Link<Packet, Frame>!
    private var decodeStage: DecodeStage!
    private let total: Int?
    private let defaultDuration: Int64
    private var firstPts = Int64.min, lastPts = Int64.min, lastDuration: Int64 = 0
    private var decodedCount = 0, corruptReports = 0

    // Steps, encode and mux.
    private let output: OutputFile
    private let container: OutputContainer
    private let videoOut: Int
    private var stages: VideoStages!
    private var audio: [Int: AudioRoute] = [:]
    private var encoder: Encoder?
    private var encode: Link<Frame, Packet>?
    private var fallbackFrom: String?
    private var encoderTimeBase: Rational
    private var defaultOutDuration: Int64 = 1
    private var firstOut = Int64.min, lastOut = Int64.min, lastOutDuration: Int64 = 0
    private var sent = 0, written = 0
    private let changesTiming: Bool
    /// The input's HDR transfer, if any, and the pixel format the encoder is asked for first.
    private let hdr: String?
    private let preferredFormat: PixelFormat

    /// Opens the input and the output at `path`, plans the steps and the audio routes; `seek` lets a
    /// leading trim jump close to its start.
    init(runner: Runner, path: String, container: OutputContainer, seek: Bool) throws {
        self.runner = runner
        let request = runner.request
        inputName = request.inputName ?? request.input
        outputName = request.outputName ?? request.output
        self.container = container
        let steps = try Chain.resolve(request.steps)
        let location = try InputLocation.resolve(request.input)
        input = try InputFile(url: location, name: inputName, options: request.inputOptions, cancellation: runner.cancellation)
        videoIndex = try input.bestVideoStream()
        video = input.videoParameters(stream: videoIndex)
        guard video.width > 0, video.height > 0 else { throw MediaError.noFramesDecoded(inputName) }
        total = input.expectedFrameCount(stream: videoIndex)
        let sourceDuration = input.info(stream: videoIndex).duration ?? input.duration
        try runner.checkLimits(width: video.width, height: video.height, duration: sourceDuration, frames: total, name: inputName)
        output = try OutputFile(path: path, name: outputName, formatName: container.muxer)

        // The steps, planned against what the input says of itself (sizes, rate, duration).
        let (shape, sourceRate, sar) = input.plannedShape(stream: videoIndex)
        let plan = try Planner.plan(steps, shape: shape, resources: request.resources)
        if steps.count > 1 { runner.onLog("note: steps run as " + plan.summary) }
        changesTiming = plan.video.contains { if case .filters = $0 { return true } else { return false } }
        hdr = video.hdrTransfer
        preferredFormat = runner.pixelFormat(for: request.outputCodec, hdr: hdr != nil)
        let hardwareRequested = OutputCatalogue.encoder(named: request.outputCodec)?.isHardware == true
        decoder = try Decoder(input: input, stream: videoIndex,
                              threads: Runner.decoderThreads(requested: request.threads, hardwareEncoder: hardwareRequested,
                                                             cores: ProcessInfo.processInfo.activeProcessorCount),
                              placement: (request.recipe.settings.decoder ?? .auto).placement)
        if let note = decoder.placementNote { runner.onLog("note: " + note) }
        defaultDuration = max(1, sourceRate.inverse.rescale(1, to: video.timeBase))
        encoderTimeBase = video.timeBase

        // The video stream keeps the first place; its encoder opens from the first frame the steps give.
        videoOut = try output.reserveStream()
        try output.copyDisplayMatrix(from: input, stream: videoIndex, to: videoOut)
        if let timecode = input.tag("timecode") { output.setTag("timecode", timecode, stream: videoOut) }

        let (startTime, kept, skipped) = input.timeline(video: videoIndex, keepAudio: request.keepAudio)
        var audioIndices = kept
        videoOffset = Rational.microseconds.rescale(startTime, to: video.timeBase)
        startSeconds = Rational.microseconds.seconds(startTime)
        // A chunk shares the whole job's timeline (the offset above) but writes video only.
        if request.window != nil { audioIndices = [] }
        readStreams = Set([videoIndex] + audioIndices)
        for index in audioIndices {
            audio[index] = try AudioRoute(input: input, stream: index, output: output, container: container,
                                          startTime: startTime, steps: plan.audio, log: runner.onLog)
        }

        stages = try VideoStages(
            plan: plan, inputTimeBase: video.timeBase, inputFrameRate: sourceRate,
            intermediateFormat: preferredFormat,
            intermediateColor: video.outputColor(height: video.height), name: inputName, onLog: runner.onLog,
            kernelBands: { [unowned self] in
                Runner.kernelBands(requested: self.request.threads,
                                   hardwareEncoder: OutputCatalogue.encoder(named: self.encoder?.name ?? "")?.isHardware == true,
                                   cores: ProcessInfo.processInfo.activeProcessorCount)
            },
            prepare: { [unowned self] width, height, timeBase, frameRate in
                try self.openEncoder(width: width, height: height, timeBase: timeBase, frameRate: frameRate, plan: plan,
                                     shape: shape, sourceRate: sourceRate, sar: sar, location: location)
            })
        let threads = Int(decoder.pointer.pointee.thread_count)
        let decodeStage = DecodeStage(decoder, onCorrupt: { [unowned self] message in
            corruptReports += 1
            if corruptReports <= 3 { warn("\(inputName): corrupt video data skipped (\(message))") }
        }, cpuDecoder: { [input, videoIndex] in try Decoder(input: input, stream: videoIndex, threads: threads, placement: .cpu) },
           onWarning: { [unowned self] in warn("\(inputName): \($0)") })
        if let (fault, bytes) = DecoderFault.fromEnvironment() { decodeStage.inject(fault, replayBytes: bytes) }
        self.decodeStage = decodeStage
        decode = try Link(decodeStage)
        if request.window == nil { for line in skipped { warn(line) } }
        try planLeadingTrim(steps.first, seek: seek)
        if let start = request.window?.start, seek {
            // The window starts on a keyframe: land on it (a quarter frame past, against rounding).
            let at = video.timeBase.seconds(start) + 0.25 * sourceRate.inverse.value
            guard (try? input.seek(to: at)) != nil else { seekMissed = true; return }
            seekedTo = video.timeBase.seconds(start)
        }
    }

    private func warn(_ s: String) { warnings.append(s); runner.onLog("warning: " + s) }

    /// Frames before a leading trim's start are cut by the trim filter, frame-exactly, wherever decoding
    /// begins; seeking to a keyframe shortly before it spares decoding them (verified on the first frame).
    /// Past its end nothing more is kept: reading stops once every stream is a second beyond it.
    private func planLeadingTrim(_ first: ResolvedStep?, seek: Bool) throws {
        guard let first, let hint = first.definition.readHint, case let .window(start, end) = hint(first.parameters) else { return }
        if seek, start >= Runner.seekAfter, input.hasTimestamps, input.duration != nil {
            // A failed seek may have left the demuxer anywhere: start again without one.
            guard (try? input.seek(to: start - 2)) != nil else { seekMissed = true; return }
            seekedTo = start
        }
        readUntil = end
    }

    // MARK: - Encode

    /// Opens the encoder for the first frame out of the steps: its size, the steps' time base and rate;
    /// writes the header. Returns the format and colour the steps must deliver.
    private func openEncoder(width: Int, height: Int, timeBase: Rational, frameRate: Rational?, plan: StepPlan,
                             shape: StreamShape, sourceRate: Rational, sar: Rational,
                             location: String) throws -> (PixelFormat, ColorProperties) {
        let (w, h) = preferredFormat.fitting(width: width, height: height)
        // Rate hints: what the last filter announces, or the planned rate when steps retime (speed).
        var rate = frameRate ?? sourceRate
        if changesTiming, abs(rate.value - plan.shape.frameRate) > 0.01 { rate = .approximating(plan.shape.frameRate) }
        let stepsResized = plan.shape.width != shape.width || plan.shape.height != shape.height
        var config = VideoEncoderConfig(
            width: w, height: h, pixelFormat: preferredFormat, timeBase: timeBase, frameRate: rate,
            sampleAspectRatio: stepsResized ? Rational(1, 1) : sar, color: video.outputColor(height: h),
            quality: request.quality, preset: request.preset, globalHeader: output.needsGlobalHeader, threads: request.threads)
        config.fieldOrder = changesTiming ? .unknown : video.fieldOrder
        config.hdr = hdr == nil ? nil : (input.hdrMetadata(stream: videoIndex)
            ?? InputFile.firstFrameHDRMetadata(url: location, options: request.inputOptions, stream: videoIndex))
        let (enc, from) = try runner.openEncoder(config: &config, path: outputName, hdr: hdr != nil)
        if let hdr { runner.reportHDR(hdr, format: config.pixelFormat, encoder: enc.name, container: container, metadata: config.hdr, warn: warn) }
        try output.attach(enc, toStream: videoOut)
        if let metadata = config.hdr { try output.attach(metadata, toStream: videoOut) }
        // A chunk is read back by the stitch, which puts it in its place on the timeline (see Stitch).
        try output.writeHeader(fastStart: container.fastStart && request.window == nil, editList: request.window == nil)
        encoder = enc; fallbackFrom = from
        encode = try Link(EncodeStage(enc))
        encoderTimeBase = timeBase
        defaultOutDuration = max(1, rate.inverse.rescale(1, to: timeBase))
        return (config.pixelFormat, config.color)
    }

    /// Sends one frame out of the steps to the encoder (nil drains it), writing what it gives.
    private func encode(_ f: Frame?) throws {
        guard let encode, let enc = encoder else { return }
        // A chunk keeps its share of the output's timeline; the frames around it only fed the steps.
        if let f, f.pts != Timestamp.none, let window = request.window, !window.keeps(f.pts) { return }
        if let f {
            // Encoders need strictly increasing times; nudge duplicates forward.
            if f.pts == Timestamp.none { f.pts = lastOut == .min ? 0 : lastOut + lastOutDuration }
            if lastOut != .min && f.pts <= lastOut { f.pts = lastOut + 1 }
            if firstOut == .min { firstOut = f.pts }
            lastOut = f.pts
            // Filters keep a frame's duration in the time base it came in with; after them, one frame at the output rate.
            if changesTiming || f.duration <= 0 { f.duration = defaultOutDuration }
            lastOutDuration = f.duration
            sent += 1
        }
        try encode.push(f) { packet in
            guard let packet else { return }
            packet.streamIndex = videoOut
            try output.write(packet, timeBase: enc.timeBase)
            written += 1
        }
    }

    // MARK: - Decode

    /// Gives a decoded frame its timestamps (monotonic, never unknown), checks the limits on what
    /// really decodes, and passes it to the steps; nil drains them. Once a seek missed, frames are dropped.
    private func decoded(_ frame: Frame?) throws {
        guard !seekMissed else { return }
        guard let frame else { return try stages.push(nil, emit: encode) }
        try runner.cancelCheck()
        var pts = frame.bestEffortTimestamp ?? (lastPts == .min ? 0 : lastPts + lastDuration)
        let duration = frame.duration > 0 ? frame.duration : defaultDuration
        if lastPts != .min && pts <= lastPts { pts = lastPts + 1 }
        if firstPts == .min {
            firstPts = pts
            if let start = seekedTo, video.timeBase.seconds(pts) > start + 1e-6 { seekMissed = true; return }
        }
        lastPts = pts; lastDuration = duration
        if let window = request.window {
            if let start = window.start, pts < start { return }
            if let end = window.end, pts >= end { windowEnded = true; return }
        }
        // Headers can lie: the limits hold for what really decodes.
        try runner.checkLimits(duration: video.timeBase.seconds(pts - firstPts), frames: decodedCount + 1, name: inputName)
        if decodedCount % 16 == 0, let max = request.limits.maxOutputBytes, output.bytesWritten > max {
            throw MediaError.limitExceeded(input: outputName, limit: "max_output_bytes", value: "\(output.bytesWritten) bytes",
                                           maximum: "\(max) bytes")
        }
        frame.pts = pts
        frame.duration = duration
        decodedCount += 1
        try stages.push(frame, emit: encode)
        runner.onProgress(JobProgress(framesDone: decodedCount, totalFrames: request.window?.frames ?? total,
                                      elapsed: Date().timeIntervalSince(started)))
    }

    // MARK: - Demux

    /// Whether reading may stop: every stream read is a second past a leading trim's end.
    private func pastEnd(_ packet: Packet, timeBase: Rational, shifted: Bool) -> Bool {
        guard let end = readUntil, let pts = packet.pts else { return false }
        let t = timeBase.seconds(pts) - (shifted ? 0 : startSeconds)
        if t > end + 1 { beyondEnd.insert(packet.streamIndex) }
        return beyondEnd.isSuperset(of: readStreams)
    }

    /// Reads the input to its end (or a leading trim's), then drains every stage and writes the trailer.
    func run() throws -> Outcome {
        if seekMissed { return .seekMissed }
        let packet = try Packet()
        reading: while !seekMissed {
            try runner.cancelCheck()
            switch try input.read(into: packet) {
            case .endOfFile: break reading
            case .corrupt(let message):
                warn("\(inputName) ends early: \(message); processed what decoded")
                break reading
            case .packet: break
            }
            defer { packet.unref() }
            if packet.streamIndex == videoIndex {
                packet.shift(by: videoOffset)
                try decode.push(packet, next: decoded)
                if windowEnded || pastEnd(packet, timeBase: video.timeBase, shifted: true) { break reading }
            } else if let route = audio[packet.streamIndex] {
                let ended = pastEnd(packet, timeBase: route.inputTimeBase, shifted: false)
                try route.handle(packet, write: output.write)
                if ended { break reading }
            }
        }
        if seekMissed { return .seekMissed }
        return try finish()
    }

    /// Drain: decoder, then the steps' filters, then the encoder; then the trailer, once.
    private func finish() throws -> Outcome {
        // The end flows through every stage: the decoder, the steps, then the encoder.
        try decode.push(nil, next: decoded)
        if seekMissed || decodedCount == 0 && seekedTo != nil { return .seekMissed }
        for route in audio.values where !route.isCopy { try route.handle(nil, write: output.write) }
        guard decodedCount > 0 else { throw MediaError.noFramesDecoded(inputName) }
        guard let encoder, sent > 0 else { throw MediaError.noFramesFromSteps(input: inputName, steps: Chain.text(request.steps)) }
        try output.finish()
        guard written == sent else { throw MediaError.frameCountMismatch(output: outputName, decoded: sent, written: written) }
        if seekedTo == nil, request.window == nil, !beyondEnd.isSuperset(of: readStreams), let announced = input.info(stream: videoIndex).frameCount,
           abs(announced - decodedCount) > max(2, announced / 20) {
            warn("\(inputName): decoded \(decodedCount) frames where the container announced \(announced)")
        }
        // What a player will show: the written file must start and end where its content does.
        let tb = encoderTimeBase
        let starts = [tb.seconds(firstOut)] + audio.values.compactMap(\.start)
        let ends = [tb.seconds(lastOut + lastOutDuration)] + audio.values.map(\.end)
        let timing = Runner.TimingExpectation(start: starts.min()!, end: ends.max()!, tolerance: 0.25 + 2 * tb.seconds(defaultOutDuration))
        var result = ProcessResult(output: output.path, framesDecoded: decodedCount, framesWritten: written, encoder: encoder.name,
                                   fallbackFrom: fallbackFrom, audioStreams: audio.count, seconds: 0, framesPerSecond: 0,
                                   warnings: warnings)
        // A device that could not take the stream's profile leaves its frames to the CPU decoder.
        if let device = decoder.device, decoder.framesOnDevice == 0, decodedCount > 0, decodeStage.failedDevice == nil {
            warn("\(device.title) could not decode \(inputName)'s video (its profile or format); it was decoded on the CPU")
        }
        result.streams = [StreamReport(kind: "video", decoder: decoder.codecName, decoderDevice: decoder.deviceLabel, encoder: encoder.name,
                                       encoderDevice: OutputCatalogue.encoder(named: encoder.name)?.device.rawValue ?? "cpu")]
            + audio.keys.sorted().compactMap { audio[$0]?.report }
        return .finished(result, timing)
    }
}

extension InputFile {
    /// The job's timeline: every stream is shifted by the same offset so the output starts at zero, as
    /// ffmpeg's does, with the offset between audio and video at the start kept exactly. Returns that
    /// offset (microseconds), the audio streams kept, and a warning for each one left out.
    func timeline(video: Int, keepAudio: Bool) -> (start: Int64, audio: [Int], skipped: [String]) {
        var audio: [Int] = [], skipped: [String] = []
        if keepAudio {
            for index in audioStreams {
                if AudioRoute.isUsable(self, index) { audio.append(index) } else {
                    skipped.append("\(AudioRoute.describe(self, index)) carries no decodable audio; left out")
                }
            }
        }
        return (startTime(of: [video] + audio), audio, skipped)
    }

    /// What the steps are planned against, as the input says it (the one reading of it that the job and
    /// the preview share): size, pixel aspect, rate (25 when it says none) and duration; with the rate
    /// and sample aspect ratio as FFmpeg guesses them.
    func plannedShape(stream index: Int) -> (StreamShape, rate: Rational, sampleAspect: Rational) {
        let v = videoParameters(stream: index)
        let shape = StreamShape(width: v.width, height: v.height,
                                pixelAspect: v.sampleAspectRatio.isPositive ? v.sampleAspectRatio.value : 1, frameRate: v.frameRate.value,
                                duration: info(stream: index).duration ?? duration)
        return (shape, v.frameRate, v.sampleAspectRatio)
    }
}

extension DecoderChoice {
    /// Where MediaIO's decoder runs for this choice.
    var placement: DecoderPlacement {
        switch self {
        case .auto: return .auto
        case .cpu: return .cpu
        case .cuda: return .device(.cuda)
        case .vaapi: return .device(.vaapi)
        }
    }
}
