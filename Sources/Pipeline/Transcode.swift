import CFFmpeg
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
    private let stream: UnsafeMutablePointer<AVStream>
    private let videoOffset: Int64
    private let readStreams: Set<Int>
    private let startSeconds: Double
    private var seekedTo: Double?
    private var readUntil: Double?
    private var beyondEnd = Set<Int>()
    private var seekMissed = false

    // Decode.
    private let decoder: Decoder
    private let total: Int?
    private let defaultDuration: Int64
    private var firstPts = Int64.min, lastPts = Int64.min, lastDuration: Int64 = 0
    private var decoded = 0, corruptReports = 0

    // Steps, encode and mux.
    private let output: OutputFile
    private let container: OutputContainer
    private let videoOut: Int
    private var stages: VideoStages!
    private var audio: [Int: AudioRoute] = [:]
    private var encoder: Encoder?
    private var fallbackFrom: String?
    private var encoderTimeBase: AVRational
    private var defaultOutDuration: Int64 = 1
    private var firstOut = Int64.min, lastOut = Int64.min, lastOutDuration: Int64 = 0
    private var sent = 0, written = 0
    private let changesTiming: Bool
    /// The input's HDR transfer, if any, and the pixel format the encoder is asked for first.
    private let hdr: String?
    private let preferredFormat: AVPixelFormat
    private let outPacket: Packet

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
        stream = input.stream(videoIndex)
        let par = stream.parameters.pointee
        guard par.width > 0, par.height > 0 else { throw MediaError.noFramesDecoded(inputName) }
        total = input.expectedFrameCount(stream: videoIndex)
        let sourceDuration = input.info(stream: videoIndex).duration ?? input.duration
        try runner.checkLimits(width: Int(par.width), height: Int(par.height), duration: sourceDuration, frames: total, name: inputName)
        output = try OutputFile(path: path, name: outputName, formatName: container.muxer)
        outPacket = try Packet()

        // The steps, planned against what the input says of itself (sizes, rate, duration).
        let (shape, sourceRate, sar) = input.plannedShape(stream: videoIndex)
        let plan = try Planner.plan(steps, shape: shape, resources: request.resources)
        if steps.count > 1 { runner.onLog("note: steps run as " + plan.summary) }
        changesTiming = plan.video.contains { if case .filters = $0 { return true } else { return false } }
        hdr = HDRTransfer.name(par.color_trc)
        preferredFormat = runner.pixelFormat(for: request.outputCodec, hdr: hdr != nil)
        let hardwareRequested = OutputCatalogue.encoder(named: request.outputCodec)?.isHardware == true
        decoder = try Decoder(input: input, stream: videoIndex,
                              threads: Runner.decoderThreads(requested: request.threads, hardwareEncoder: hardwareRequested,
                                                             cores: ProcessInfo.processInfo.activeProcessorCount))
        defaultDuration = max(1, av_rescale_q(1, av_inv_q(sourceRate), stream.pointee.time_base))
        encoderTimeBase = stream.pointee.time_base

        // The video stream keeps the first place; its encoder opens from the first frame the steps give.
        videoOut = try output.reserveStream()
        try check(vfx_copy_display_matrix(stream, output.stream(videoOut)), "copying the display matrix", path: outputName)
        if let timecode = input.tag("timecode") { output.setTag("timecode", timecode, stream: videoOut) }

        // Every stream is shifted by the same offset so the output starts at zero, as ffmpeg's does,
        // with the offset between audio and video at the start kept exactly.
        var audioIndices: [Int] = []
        var skipped: [String] = []
        if request.keepAudio {
            for index in input.audioStreams {
                if AudioRoute.isUsable(input, index) { audioIndices.append(index) } else {
                    skipped.append("\(AudioRoute.describe(input, index)) carries no decodable audio; left out")
                }
            }
        }
        let startTime = input.startTime(of: [videoIndex] + audioIndices)
        videoOffset = av_rescale_q(startTime, AVRational(num: 1, den: Int32(AV_TIME_BASE)), stream.pointee.time_base)
        startSeconds = Double(startTime) / Double(AV_TIME_BASE)
        readStreams = Set([videoIndex] + audioIndices)
        for index in audioIndices {
            audio[index] = try AudioRoute(input: input, stream: index, output: output, container: container,
                                          startTime: startTime, steps: plan.audio, log: runner.onLog)
        }

        stages = try VideoStages(
            plan: plan, inputTimeBase: stream.pointee.time_base, inputFrameRate: sourceRate,
            intermediateFormat: preferredFormat,
            intermediateColor: Self.outputColor(par, height: Int(par.height)), name: inputName, onLog: runner.onLog,
            prepare: { [unowned self] width, height, timeBase, frameRate in
                try self.openEncoder(width: width, height: height, timeBase: timeBase, frameRate: frameRate, plan: plan,
                                     shape: shape, sourceRate: sourceRate, sar: sar, location: location)
            })
        for line in skipped { warn(line) }
        try planLeadingTrim(steps.first, seek: seek)
    }

    private func warn(_ s: String) { warnings.append(s); runner.onLog("warning: " + s) }

    /// Colour: what the input says; the matrix named for the output's height when the input says nothing.
    static func outputColor(_ par: AVCodecParameters, height: Int) -> ColorProperties {
        var color = ColorProperties()
        color.primaries = par.color_primaries
        color.transfer = par.color_trc
        color.matrix = VideoEffectStage.matrix(for: par.color_space, height: height)
        color.range = par.color_range == AVCOL_RANGE_JPEG ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG
        return color
    }

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
    private func openEncoder(width: Int, height: Int, timeBase: AVRational, frameRate: AVRational?, plan: StepPlan,
                             shape: StreamShape, sourceRate: AVRational, sar: AVRational,
                             location: String) throws -> (AVPixelFormat, ColorProperties) {
        let par = stream.parameters.pointee
        var sx: Int32 = 0, sy: Int32 = 0
        av_pix_fmt_get_chroma_sub_sample(preferredFormat, &sx, &sy)
        let w = width & ~((1 << Int(sx)) - 1), h = height & ~((1 << Int(sy)) - 1)
        // Rate hints: what the last filter announces, or the planned rate when steps retime (speed).
        var rate = frameRate ?? sourceRate
        if changesTiming, abs(av_q2d(rate) - plan.shape.frameRate) > 0.01 { rate = av_d2q(plan.shape.frameRate, 100_000) }
        let stepsResized = plan.shape.width != shape.width || plan.shape.height != shape.height
        var config = VideoEncoderConfig(
            width: w, height: h, pixelFormat: preferredFormat, timeBase: timeBase, frameRate: rate,
            sampleAspectRatio: stepsResized ? AVRational(num: 1, den: 1) : sar, color: Self.outputColor(par, height: h),
            quality: request.quality, preset: request.preset, globalHeader: output.needsGlobalHeader, threads: request.threads)
        config.fieldOrder = changesTiming ? AV_FIELD_UNKNOWN : par.field_order
        config.hdr = hdr == nil ? nil : (HDRMetadata(stream: stream) ?? Runner.firstFrameHDRMetadata(location, request, videoIndex))
        let (enc, from) = try runner.openEncoder(config: &config, path: outputName, hdr: hdr != nil)
        if let hdr { runner.reportHDR(hdr, format: config.pixelFormat, encoder: enc.name, container: container, metadata: config.hdr, warn: warn) }
        try output.attach(enc, toStream: videoOut)
        if let metadata = config.hdr { try metadata.attach(to: output.stream(videoOut), path: outputName) }
        try output.writeHeader(fastStart: container.fastStart)
        encoder = enc; fallbackFrom = from
        encoderTimeBase = timeBase
        defaultOutDuration = max(1, av_rescale_q(1, av_inv_q(rate), timeBase))
        return (config.pixelFormat, config.color)
    }

    private func writeEncoded(_ enc: Encoder, stream index: Int) throws {
        while case .value = try enc.receive(into: outPacket) {
            outPacket.pointer.pointee.stream_index = Int32(index)
            try output.write(outPacket, timeBase: enc.timeBase)
            if index == videoOut { written += 1 }
        }
    }

    /// Sends one frame out of the steps to the encoder (nil drains it), writing what it gives.
    private func encode(_ f: Frame?) throws {
        guard let enc = encoder else { return }
        if let f {
            // Encoders need strictly increasing times; nudge duplicates forward.
            if f.pts == vfx_nopts() { f.pts = lastOut == .min ? 0 : lastOut + lastOutDuration }
            if lastOut != .min && f.pts <= lastOut { f.pts = lastOut + 1 }
            if firstOut == .min { firstOut = f.pts }
            lastOut = f.pts
            // Filters keep a frame's duration in the time base it came in with; after them, one frame at the output rate.
            if changesTiming || f.duration <= 0 { f.duration = defaultOutDuration }
            lastOutDuration = f.duration
            sent += 1
        }
        while try !enc.send(f) { try writeEncoded(enc, stream: videoOut) }
        try writeEncoded(enc, stream: videoOut)
    }

    // MARK: - Decode

    /// Receives every frame the decoder has ready and passes it on; stops early when a seek missed.
    private func drainDecoder(into frame: Frame) throws {
        let timeBase = stream.pointee.time_base
        while !seekMissed, case .value = try decoder.receive(into: frame) {
            try runner.cancelCheck()
            var pts = frame.pointer.pointee.best_effort_timestamp
            let duration = frame.duration > 0 ? frame.duration : defaultDuration
            if pts == vfx_nopts() { pts = lastPts == .min ? 0 : lastPts + lastDuration }
            if lastPts != .min && pts <= lastPts { pts = lastPts + 1 }
            if firstPts == .min {
                firstPts = pts
                if let start = seekedTo, Double(pts) * av_q2d(timeBase) > start + 1e-6 { seekMissed = true; return }
            }
            lastPts = pts; lastDuration = duration
            // Headers can lie: the limits hold for what really decodes.
            try runner.checkLimits(duration: Double(pts - firstPts) * av_q2d(timeBase), frames: decoded + 1, name: inputName)
            if decoded % 16 == 0, let max = request.limits.maxOutputBytes, output.bytesWritten > max {
                throw MediaError.limitExceeded(input: outputName, limit: "max_output_bytes", value: "\(output.bytesWritten) bytes",
                                               maximum: "\(max) bytes")
            }
            frame.pts = pts
            frame.duration = duration
            decoded += 1
            try stages.push(frame, emit: encode)
            frame.unref()
            runner.onProgress(JobProgress(framesDone: decoded, totalFrames: total, elapsed: Date().timeIntervalSince(started)))
        }
    }

    private func sendVideo(_ p: Packet?, frame: Frame) throws {
        switch try decoder.send(p) {
        case .accepted: break
        case .full:
            try drainDecoder(into: frame)
            _ = try decoder.send(p)
        case .corrupt(let message):
            corruptReports += 1
            if corruptReports <= 3 { warn("\(inputName): corrupt video data skipped (\(message))") }
        }
        try drainDecoder(into: frame)
    }

    // MARK: - Demux

    /// Whether reading may stop: every stream read is a second past a leading trim's end.
    private func pastEnd(_ packet: Packet, timeBase: AVRational, shifted: Bool) -> Bool {
        guard let end = readUntil, let pts = packet.pts else { return false }
        let t = Double(pts) * av_q2d(timeBase) - (shifted ? 0 : startSeconds)
        if t > end + 1 { beyondEnd.insert(packet.streamIndex) }
        return beyondEnd.isSuperset(of: readStreams)
    }

    /// Reads the input to its end (or a leading trim's), then drains every stage and writes the trailer.
    func run() throws -> Outcome {
        if seekMissed { return .seekMissed }
        let packet = try Packet(), frame = try Frame()
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
                try sendVideo(packet, frame: frame)
                if pastEnd(packet, timeBase: stream.pointee.time_base, shifted: true) { break reading }
            } else if let route = audio[packet.streamIndex] {
                let ended = pastEnd(packet, timeBase: input.stream(packet.streamIndex).pointee.time_base, shifted: false)
                try route.handle(packet, output: output, write: writeEncoded)
                if ended { break reading }
            }
        }
        if seekMissed { return .seekMissed }
        return try finish(frame: frame)
    }

    /// Drain: decoder, then the steps' filters, then the encoder; then the trailer, once.
    private func finish(frame: Frame) throws -> Outcome {
        try sendVideo(nil, frame: frame)
        if seekMissed || decoded == 0 && seekedTo != nil { return .seekMissed }
        try stages.push(nil, emit: encode)
        try encode(nil)
        for route in audio.values where !route.isCopy { try route.handle(nil, output: output, write: writeEncoded) }
        guard decoded > 0 else { throw MediaError.noFramesDecoded(inputName) }
        guard let encoder, sent > 0 else { throw MediaError.noFramesFromSteps(input: inputName, steps: Chain.text(request.steps)) }
        try output.finish()
        guard written == sent else { throw MediaError.frameCountMismatch(output: outputName, decoded: sent, written: written) }
        if seekedTo == nil, !beyondEnd.isSuperset(of: readStreams), let announced = input.info(stream: videoIndex).frameCount,
           abs(announced - decoded) > max(2, announced / 20) {
            warn("\(inputName): decoded \(decoded) frames where the container announced \(announced)")
        }
        // What a player will show: the written file must start and end where its content does.
        let tb = av_q2d(encoderTimeBase)
        let starts = [Double(firstOut) * tb] + audio.values.compactMap(\.start)
        let ends = [Double(lastOut + lastOutDuration) * tb] + audio.values.map(\.end)
        let timing = Runner.TimingExpectation(start: starts.min()!, end: ends.max()!, tolerance: 0.25 + 2 * Double(defaultOutDuration) * tb)
        var result = ProcessResult(output: output.path, framesDecoded: decoded, framesWritten: written, encoder: encoder.name,
                                   fallbackFrom: fallbackFrom, audioStreams: audio.count, seconds: 0, framesPerSecond: 0,
                                   warnings: warnings)
        // Decoding runs on the CPU (no hardware decoder is opened); NVENC encoders run on the GPU.
        result.streams = [StreamReport(kind: "video", decoder: decoder.codecName, decoderDevice: "cpu", encoder: encoder.name,
                                       encoderDevice: OutputCatalogue.encoder(named: encoder.name)?.device.rawValue ?? "cpu")]
            + audio.keys.sorted().compactMap { audio[$0]?.report }
        return .finished(result, timing)
    }
}

extension InputFile {
    /// What the steps are planned against, as the input says it (the one reading of it that the job and
    /// the preview share): size, pixel aspect, rate (25 when it says none) and duration; with the rate
    /// and sample aspect ratio as FFmpeg guesses them.
    func plannedShape(stream index: Int) -> (StreamShape, rate: AVRational, sampleAspect: AVRational) {
        let st = stream(index)
        let par = st.parameters.pointee
        let guessed = av_guess_frame_rate(context, st, nil)
        let rate = guessed.num > 0 && guessed.den > 0 ? guessed : AVRational(num: 25, den: 1)
        let sar = av_guess_sample_aspect_ratio(context, st, nil)
        let shape = StreamShape(width: Int(par.width), height: Int(par.height),
                                pixelAspect: sar.num > 0 && sar.den > 0 ? av_q2d(sar) : 1, frameRate: av_q2d(rate),
                                duration: info(stream: index).duration ?? duration)
        return (shape, rate, sar)
    }
}
