import CFFmpeg
import Effects
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MediaIO

/// A job that failed: the error, told so that it names the user's input or output.
public struct JobFailure: Error, CategorizedError, CustomStringConvertible {
    public let input: String
    public let output: String
    public let underlying: any Error

    public init(input: String, output: String, underlying: any Error) {
        self.input = input
        self.output = output
        self.underlying = underlying
    }

    public var category: ErrorCategory { ErrorCategory.of(underlying) }

    /// The underlying message when it already names the input or output; else prefixed with them.
    public var description: String {
        let message = "\(underlying)"
        if message.contains(input) || message.contains(output) { return message }
        return "\(input) -> \(output): \(message)"
    }
}

/// Runs one job: decode -> effect -> encode with audio alongside, written under a temporary name
/// and renamed into place only when every frame made it.
public final class Runner {
    public let request: ProcessRequest
    private let cancellation: CancellationFlag
    private let onProgress: (JobProgress) -> Void
    let onLog: (String) -> Void

    /// `onLog` receives warnings and notes (fallbacks, corrupt data); `onProgress` every frame.
    public init(request: ProcessRequest, cancellation: CancellationFlag = CancellationFlag(),
                onProgress: @escaping (JobProgress) -> Void = { _ in }, onLog: @escaping (String) -> Void = { _ in }) {
        self.request = request
        self.cancellation = cancellation
        self.onProgress = onProgress
        self.onLog = onLog
    }

    /// Runs the job to completion (blocking); throws on failure, leaving no output file behind.
    /// Every error but cancellation names the user's input or output (see ``JobFailure``).
    public func run() throws -> ProcessResult {
        do {
            return try runUnlabelled()
        } catch MediaError.cancelled {
            throw MediaError.cancelled
        } catch {
            throw JobFailure(input: request.inputName ?? request.input, output: request.outputName ?? request.output,
                             underlying: error)
        }
    }

    private func runUnlabelled() throws -> ProcessResult {
        try RequestValidation.validate(request)
        let container = try OutputContainer(path: request.output)
        let temp = try Self.temporaryPath(for: request.output)
        TemporaryFiles.register(temp)
        defer { TemporaryFiles.unregister(temp) }
        let started = Date()
        do {
            // The check runs once the transcode's codecs and files are released, so it adds nothing to peak memory.
            var (result, timing): (ProcessResult, TimingExpectation)
            do {
                (result, timing) = try transcode(to: temp, container: container, seek: true)
            } catch is SeekFailed {
                // The seek failed or landed after the trim's start: read from the beginning instead.
                unlink(temp)
                (result, timing) = try transcode(to: temp, container: container, seek: false)
            }
            try Self.verifyTiming(path: temp, name: request.outputName ?? request.output, timing)
            result.seconds = Date().timeIntervalSince(started)
            result.framesPerSecond = result.seconds > 0 ? Double(result.framesDecoded) / result.seconds : 0
            try cancelCheck()
            if rename(temp, request.output) != 0 {
                throw MediaError.outputNotWritable(path: request.output, reason: String(cString: strerror(errno)))
            }
            result.output = request.output
            return result
        } catch {
            unlink(temp)
            throw error
        }
    }

    /// A hidden name beside the target with the same extension (so the muxer and rename stay on one file system).
    static func temporaryPath(for output: String) throws -> String {
        let url = URL(fileURLWithPath: output)
        let dir = url.deletingLastPathComponent().path
        var info = stat()
        guard stat(dir, &info) == 0, info.st_mode & S_IFMT == S_IFDIR else {
            throw MediaError.outputNotWritable(path: output, reason: "directory \(dir) does not exist")
        }
        guard access(dir, W_OK) == 0 else {
            throw MediaError.outputNotWritable(path: output, reason: "directory \(dir) is not writable")
        }
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        return "\(dir)/.\(url.deletingPathExtension().lastPathComponent).vfx-\(token).\(url.pathExtension)"
    }

    private func cancelCheck() throws { if cancellation.isCancelled { throw MediaError.cancelled } }

    // MARK: - The loop

    /// Where the written content starts and ends, in seconds, and how far a player's view may differ.
    struct TimingExpectation {
        var start: Double
        var end: Double
        var tolerance: Double
    }

    /// A leading trim that starts at least this many seconds in lets the demuxer jump close to its start.
    static let seekAfter = 5.0

    /// A seek failed, or after it the first frame came later than the trim's start (an inexact index) or none decoded.
    struct SeekFailed: Error {}

    private func transcode(to path: String, container: OutputContainer, seek: Bool) throws -> (ProcessResult, TimingExpectation) {
        let started = Date()
        var warnings: [String] = []
        func warn(_ s: String) { warnings.append(s); onLog("warning: " + s) }
        let inputName = request.inputName ?? request.input
        let outputName = request.outputName ?? request.output
        let steps = try Chain.resolve(request.steps)

        let location = try InputLocation.resolve(request.input)
        let input = try InputFile(url: location, name: inputName, options: request.inputOptions, cancellation: cancellation)
        let videoIndex = try input.bestVideoStream()
        let st = input.stream(videoIndex)
        // What the stream says of itself; the decoder opens once the encoder is known (see decoderThreads).
        let par = st.parameters.pointee
        guard par.width > 0, par.height > 0 else { throw MediaError.noFramesDecoded(inputName) }
        let hdr = HDRTransfer.name(par.color_trc)
        let total = input.expectedFrameCount(stream: videoIndex)
        let sourceDuration = input.info(stream: videoIndex).duration ?? input.duration
        try checkLimits(width: Int(par.width), height: Int(par.height), duration: sourceDuration, frames: total, name: inputName)
        let output = try OutputFile(path: path, name: outputName, formatName: container.muxer)

        let guessedRate = av_guess_frame_rate(input.context, st, nil)
        let sourceRate = guessedRate.num > 0 && guessedRate.den > 0 ? guessedRate : AVRational(num: 25, den: 1)
        let sar = av_guess_sample_aspect_ratio(input.context, st, nil)
        // The steps, planned against what the input says of itself (sizes, rate, duration).
        let shape = StreamShape(width: Int(par.width), height: Int(par.height),
                                pixelAspect: sar.num > 0 && sar.den > 0 ? av_q2d(sar) : 1, frameRate: av_q2d(sourceRate),
                                duration: sourceDuration)
        let plan = try Planner.plan(steps, shape: shape, resources: request.resources)
        if steps.count > 1 { onLog("note: steps run as " + plan.summary) }
        let changesTiming = plan.video.contains { if case .filters = $0 { return true } else { return false } }

        // Colour: keep what the input says; the matrix is named for the output's height when the input says nothing.
        func outputColor(height: Int) -> ColorProperties {
            var color = ColorProperties()
            color.primaries = par.color_primaries
            color.transfer = par.color_trc
            color.matrix = VideoEffectStage.matrix(for: par.color_space, height: height)
            color.range = par.color_range == AVCOL_RANGE_JPEG ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG
            return color
        }
        let preferredFormat = pixelFormat(for: request.outputCodec, hdr: hdr != nil)
        let hdrMetadata = hdr == nil ? nil : (HDRMetadata(stream: st) ?? Self.firstFrameHDRMetadata(location, request, videoIndex))
        let hardwareRequested = OutputCatalogue.encoder(named: request.outputCodec)?.isHardware == true
        let decoder = try Decoder(input: input, stream: videoIndex,
                                  threads: Self.decoderThreads(requested: request.threads, hardwareEncoder: hardwareRequested,
                                                               cores: ProcessInfo.processInfo.activeProcessorCount))

        // The video stream keeps the first place; its encoder opens from the first frame the steps give.
        let videoOut = try output.reserveStream()
        try check(vfx_copy_display_matrix(st, output.stream(videoOut)), "copying the display matrix", path: outputName)
        if let timecode = input.tag("timecode") { output.setTag("timecode", timecode, stream: videoOut) }

        // Every stream is shifted by the same offset so the output starts at zero, as ffmpeg's does,
        // with the offset between audio and video at the start kept exactly.
        var audioIndices: [Int] = []
        if request.keepAudio {
            for index in input.audioStreams {
                if AudioRoute.isUsable(input, index) { audioIndices.append(index) } else {
                    warn("\(AudioRoute.describe(input, index)) carries no decodable audio; left out")
                }
            }
        }
        let startTime = input.startTime(of: [videoIndex] + audioIndices)
        let videoOffset = av_rescale_q(startTime, AVRational(num: 1, den: Int32(AV_TIME_BASE)), st.pointee.time_base)
        var audio: [Int: AudioRoute] = [:]
        for index in audioIndices {
            audio[index] = try AudioRoute(input: input, stream: index, output: output, container: container,
                                          startTime: startTime, steps: plan.audio, log: onLog)
        }

        // Frames before a leading trim's start are cut by the trim filter, frame-exactly, wherever decoding
        // begins; seeking to a keyframe shortly before it spares decoding them (verified on the first frame).
        var seekedTo: Double?
        // Past a leading trim's end nothing more is kept: reading stops once every stream is a second beyond it.
        var readUntil: Double?
        if let trim = steps.first, trim.name == "trim", let start = trim.parameters.double("start") {
            if seek, start >= Self.seekAfter, input.hasTimestamps, input.duration != nil {
                // A failed seek may have left the demuxer anywhere: start again without one.
                guard (try? input.seek(to: start - 2)) != nil else { throw SeekFailed() }
                seekedTo = start
            }
            readUntil = trim.parameters.double("end") ?? trim.parameters.double("duration").map { start + $0 }
        }
        var beyondEnd = Set<Int>()
        let readStreams = Set([videoIndex] + audioIndices)
        let startSeconds = Double(startTime) / Double(AV_TIME_BASE)
        func pastEnd(_ packet: Packet, timeBase: AVRational, shifted: Bool) -> Bool {
            guard let end = readUntil, let pts = packet.pts else { return false }
            let t = Double(pts) * av_q2d(timeBase) - (shifted ? 0 : startSeconds)
            if t > end + 1 { beyondEnd.insert(packet.streamIndex) }
            return beyondEnd.isSuperset(of: readStreams)
        }

        let outPacket = try Packet()
        var decoded = 0, sent = 0, written = 0
        var encoder: Encoder?
        var fallbackFrom: String?
        var firstOut = Int64.min, lastOut = Int64.min, lastOutDuration: Int64 = 0
        var encoderTimeBase = st.pointee.time_base
        var defaultOutDuration: Int64 = 1

        func writeEncoded(_ enc: Encoder, stream: Int) throws {
            while case .value = try enc.receive(into: outPacket) {
                outPacket.pointer.pointee.stream_index = Int32(stream)
                try output.write(outPacket, timeBase: enc.timeBase)
                if stream == videoOut { written += 1 }
            }
        }

        // Opens the encoder for the first frame out of the steps: its size, the steps' time base and rate.
        let stages = try VideoStages(
            plan: plan, inputTimeBase: st.pointee.time_base, inputFrameRate: sourceRate, intermediateFormat: preferredFormat,
            intermediateColor: outputColor(height: Int(par.height)), name: inputName, onLog: onLog,
            prepare: { [self] width, height, timeBase, frameRate in
                var sx: Int32 = 0, sy: Int32 = 0
                av_pix_fmt_get_chroma_sub_sample(preferredFormat, &sx, &sy)
                let w = width & ~((1 << Int(sx)) - 1), h = height & ~((1 << Int(sy)) - 1)
                // Rate hints: what the last filter announces, or the planned rate when steps retime (speed).
                var rate = frameRate ?? sourceRate
                if changesTiming, abs(av_q2d(rate) - plan.shape.frameRate) > 0.01 { rate = av_d2q(plan.shape.frameRate, 100_000) }
                let stepsResized = plan.shape.width != shape.width || plan.shape.height != shape.height
                var config = VideoEncoderConfig(
                    width: w, height: h, pixelFormat: preferredFormat, timeBase: timeBase, frameRate: rate,
                    sampleAspectRatio: stepsResized ? AVRational(num: 1, den: 1) : sar, color: outputColor(height: h),
                    quality: request.quality, preset: request.preset, globalHeader: output.needsGlobalHeader, threads: request.threads)
                config.fieldOrder = changesTiming ? AV_FIELD_UNKNOWN : par.field_order
                config.hdr = hdrMetadata
                let (enc, from) = try openEncoder(config: &config, path: outputName, hdr: hdr != nil)
                if let hdr { reportHDR(hdr, format: config.pixelFormat, encoder: enc.name, container: container, metadata: config.hdr, warn: warn) }
                try output.attach(enc, toStream: videoOut)
                if let metadata = config.hdr { try metadata.attach(to: output.stream(videoOut), path: outputName) }
                try output.writeHeader(fastStart: container.fastStart)
                encoder = enc; fallbackFrom = from
                encoderTimeBase = timeBase
                defaultOutDuration = max(1, av_rescale_q(1, av_inv_q(rate), timeBase))
                return (config.pixelFormat, config.color)
            })

        func encode(_ f: Frame?) throws {
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

        let packet = try Packet()
        let frame = try Frame()
        var firstPts = Int64.min, lastPts = Int64.min, lastDuration: Int64 = 0
        var corruptReports = 0
        let defaultDuration = max(1, av_rescale_q(1, av_inv_q(sourceRate), st.pointee.time_base))

        func drainDecoder() throws {
            while case .value = try decoder.receive(into: frame) {
                try cancelCheck()
                var pts = frame.pointer.pointee.best_effort_timestamp
                let duration = frame.duration > 0 ? frame.duration : defaultDuration
                if pts == vfx_nopts() { pts = lastPts == .min ? 0 : lastPts + lastDuration }
                if lastPts != .min && pts <= lastPts { pts = lastPts + 1 }
                if firstPts == .min {
                    firstPts = pts
                    if let start = seekedTo, Double(pts) * av_q2d(st.pointee.time_base) > start + 1e-6 { throw SeekFailed() }
                }
                lastPts = pts; lastDuration = duration
                // Headers can lie: the limits hold for what really decodes.
                try checkLimits(duration: Double(pts - firstPts) * av_q2d(st.pointee.time_base), frames: decoded + 1, name: inputName)
                if decoded % 16 == 0, let max = request.limits.maxOutputBytes, output.bytesWritten > max {
                    throw MediaError.limitExceeded(input: outputName, limit: "max_output_bytes", value: "\(output.bytesWritten) bytes",
                                                   maximum: "\(max) bytes")
                }
                frame.pts = pts
                frame.duration = duration
                decoded += 1
                try stages.push(frame, emit: encode)
                frame.unref()
                onProgress(JobProgress(framesDone: decoded, totalFrames: total, elapsed: Date().timeIntervalSince(started)))
            }
        }

        func sendVideo(_ p: Packet?) throws {
            switch try decoder.send(p) {
            case .accepted: break
            case .full:
                try drainDecoder()
                _ = try decoder.send(p)
            case .corrupt(let message):
                corruptReports += 1
                if corruptReports <= 3 { warn("\(inputName): corrupt video data skipped (\(message))") }
            }
            try drainDecoder()
        }

        reading: while true {
            try cancelCheck()
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
                try sendVideo(packet)
                if pastEnd(packet, timeBase: st.pointee.time_base, shifted: true) { break reading }
            } else if let route = audio[packet.streamIndex] {
                let ended = pastEnd(packet, timeBase: input.stream(packet.streamIndex).pointee.time_base, shifted: false)
                try route.handle(packet, output: output, write: writeEncoded)
                if ended { break reading }
            }
        }

        // Drain: decoder, then the steps' filters, then the encoder; then the trailer, once.
        try sendVideo(nil)
        try stages.push(nil, emit: encode)
        try encode(nil)
        for route in audio.values where !route.isCopy { try route.handle(nil, output: output, write: writeEncoded) }
        if decoded == 0 && seekedTo != nil { throw SeekFailed() }
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
        let timing = TimingExpectation(start: starts.min()!, end: ends.max()!, tolerance: 0.25 + 2 * Double(defaultOutDuration) * tb)
        var result = ProcessResult(output: path, framesDecoded: decoded, framesWritten: written, encoder: encoder.name,
                                   fallbackFrom: fallbackFrom, audioStreams: audio.count, seconds: 0, framesPerSecond: 0,
                                   warnings: warnings)
        // Decoding runs on the CPU (no hardware decoder is opened); NVENC encoders run on the GPU.
        result.streams = [StreamReport(kind: "video", decoder: decoder.codecName, decoderDevice: "cpu", encoder: encoder.name,
                                       encoderDevice: OutputCatalogue.encoder(named: encoder.name)?.device.rawValue ?? "cpu")]
            + audio.keys.sorted().compactMap { audio[$0]?.report }
        return (result, timing)
    }

    /// Decoder threads for a job (0: FFmpeg's choice, one more than the cores).
    ///
    /// A CPU encoder already keeps every core busy with its own threads; extra decoder frame
    /// threads then only compete with it and each holds frames in memory (measured at 1080p on
    /// 2 cores: same speed, 20 MB less peak RSS with one). So beside a CPU encoder the decoder
    /// gets one thread below 4 cores, and a quarter of the cores (at least 2) from 4 up, where a
    /// single thread could fall behind on 4K HEVC or AV1. A hardware encoder leaves the cores to
    /// decoding and the effect.
    static func decoderThreads(requested: Int, hardwareEncoder: Bool, cores: Int) -> Int {
        if requested > 0 { return requested }
        if hardwareEncoder { return 0 }
        return cores < 4 ? 1 : max(2, cores / 4)
    }

    /// Opens the requested encoder, or its CPU fallback (logged) when it is hardware that cannot open here.
    private func openEncoder(config: inout VideoEncoderConfig, path: String, hdr: Bool) throws -> (Encoder, String?) {
        let name = request.outputCodec
        do {
            return (try Encoder.openVideo(name: name, config: config, path: path), nil)
        } catch let MediaError.encoderUnavailable(_, reason) {
            guard let entry = OutputCatalogue.encoder(named: name), entry.isHardware else {
                throw MediaError.encoderUnavailable(name: name, reason: reason)
            }
            guard request.allowFallback else {
                throw MediaError.encoderUnavailable(name: name, reason: reason + " (fallback disabled by --no-fallback)")
            }
            var lastError: Error = MediaError.encoderUnavailable(name: name, reason: reason)
            for fallback in entry.fallbacks {
                var c = config
                c.pixelFormat = pixelFormat(for: fallback, hdr: hdr)
                // A preset the fallback does not take (NVENC's p1...p7) gives way to the fallback's default.
                if let p = c.preset, OutputCatalogue.encoder(named: fallback)?.takes(preset: p) == false { c.preset = nil }
                do {
                    let enc = try Encoder.openVideo(name: fallback, config: c, path: path)
                    onLog("warning: \(name) cannot open on this machine (\(reason)); falling back to the CPU encoder \(fallback)")
                    config = c
                    return (enc, name)
                } catch { lastError = error }
            }
            throw lastError
        }
    }
}
