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

/// Runs one job: decode -> effect -> encode with audio alongside, written under a temporary name
/// and renamed into place only when every frame made it.
public final class Runner {
    public let request: ProcessRequest
    private let cancellation: CancellationFlag
    private let onProgress: (JobProgress) -> Void
    private let onLog: (String) -> Void

    /// `onLog` receives warnings and notes (fallbacks, corrupt data); `onProgress` every frame.
    public init(request: ProcessRequest, cancellation: CancellationFlag = CancellationFlag(),
                onProgress: @escaping (JobProgress) -> Void = { _ in }, onLog: @escaping (String) -> Void = { _ in }) {
        self.request = request
        self.cancellation = cancellation
        self.onProgress = onProgress
        self.onLog = onLog
    }

    /// Runs the job to completion (blocking); throws on failure, leaving no output file behind.
    public func run() throws -> ProcessResult {
        try RequestValidation.validate(request)
        let container = try OutputContainer(path: request.output)
        let temp = try Self.temporaryPath(for: request.output)
        do {
            var result = try transcode(to: temp, container: container)
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

    private struct AudioRoute {
        let inputIndex: Int
        let outputIndex: Int
        let inputTimeBase: AVRational
        // Set when the audio is re-encoded rather than copied.
        let decoder: Decoder?
        let converter: AudioConverter?
        let encoder: Encoder?
    }

    private func transcode(to path: String, container: OutputContainer) throws -> ProcessResult {
        let started = Date()
        var warnings: [String] = []
        func warn(_ s: String) { warnings.append(s); onLog("warning: " + s) }

        let input = try InputFile(url: try InputLocation.resolve(request.input), options: request.inputOptions,
                                  cancellation: cancellation)
        let videoIndex = try input.bestVideoStream()
        let st = input.stream(videoIndex)
        // What the stream says of itself; the decoder opens once the encoder is known (see decoderThreads).
        let par = st.parameters.pointee
        guard par.width > 0, par.height > 0 else { throw MediaError.noFramesDecoded(request.input) }
        guard let pixelFormat = PixelFormats.named(request.pixelFormat) else {
            throw MediaError.unsupportedPixelFormat(request.pixelFormat, encoder: request.outputCodec, supported: [])
        }
        let output = try OutputFile(path: path, formatName: container.muxer)

        // Geometry: subsampled formats need sizes that are multiples of the subsampling.
        var sx: Int32 = 0, sy: Int32 = 0
        av_pix_fmt_get_chroma_sub_sample(pixelFormat, &sx, &sy)
        let width = Int(par.width) & ~((1 << Int(sx)) - 1), height = Int(par.height) & ~((1 << Int(sy)) - 1)
        if width != Int(par.width) || height != Int(par.height) {
            onLog("note: \(par.width)x\(par.height) is encoded as \(width)x\(height) (\(request.pixelFormat) needs even sizes)")
        }
        guard width > 0, height > 0 else { throw MediaError.noFramesDecoded(request.input) }

        // Colour: keep what the input says; name the matrix we convert with when it says nothing.
        var color = ColorProperties()
        color.primaries = par.color_primaries
        color.transfer = par.color_trc
        color.matrix = VideoEffectStage.matrix(for: par.color_space, height: height)
        color.range = par.color_range == AVCOL_RANGE_JPEG ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG

        let frameRate = av_guess_frame_rate(input.context, st, nil)
        var config = VideoEncoderConfig(
            width: width, height: height, pixelFormat: pixelFormat, timeBase: st.pointee.time_base,
            frameRate: frameRate.num > 0 && frameRate.den > 0 ? frameRate : AVRational(num: 25, den: 1),
            sampleAspectRatio: av_guess_sample_aspect_ratio(input.context, st, nil), color: color,
            quality: request.quality, preset: request.preset, globalHeader: output.needsGlobalHeader, threads: request.threads)
        let (encoder, fallbackFrom) = try openEncoder(config: &config, path: path)
        let hardwareEncoder = CodecCatalog.entry(named: encoder.name)?.hardware == true
        let decoder = try Decoder(input: input, stream: videoIndex,
                                  threads: Self.decoderThreads(requested: request.threads, hardwareEncoder: hardwareEncoder,
                                                               cores: ProcessInfo.processInfo.activeProcessorCount))
        let stage = try VideoEffectStage(effect: try request.effect.makeEffect(), width: width, height: height,
                                         format: pixelFormat, outputColor: color)

        let videoOut = try output.addStream(encoder: encoder)
        try check(vfx_copy_display_matrix(st, output.stream(videoOut)), "copying the display matrix", path: path)

        var audio: [Int: AudioRoute] = [:]
        if request.keepAudio {
            for index in input.audioStreams {
                let ist = input.stream(index)
                let codecID = ist.parameters.pointee.codec_id
                if output.accepts(codecID) {
                    let o = try output.addCopiedStream(from: input, stream: index)
                    audio[index] = AudioRoute(inputIndex: index, outputIndex: o, inputTimeBase: ist.pointee.time_base,
                                              decoder: nil, converter: nil, encoder: nil)
                } else {
                    let dec = try Decoder(input: input, stream: index)
                    let d = dec.pointer.pointee
                    let enc = try Encoder.openAudio(name: container.audioEncoder, sampleRate: d.sample_rate, layout: d.ch_layout,
                                                    globalHeader: output.needsGlobalHeader, path: path)
                    let conv = try AudioConverter(decoder: dec, encoder: enc)
                    let o = try output.addStream(encoder: enc)
                    output.copyLanguage(from: ist, to: output.stream(o))
                    onLog("note: audio stream \(index) (\(String(cString: vfx_codec_name(codecID)))) is re-encoded to \(enc.name) for \(container.rawValue)")
                    audio[index] = AudioRoute(inputIndex: index, outputIndex: o, inputTimeBase: ist.pointee.time_base,
                                              decoder: dec, converter: conv, encoder: enc)
                }
            }
        }
        try output.writeHeader(fastStart: container.fastStart)

        let packet = try Packet()
        let frame = try Frame()
        let audioFrame = try Frame()
        let outPacket = try Packet()
        let total = input.expectedFrameCount(stream: videoIndex)
        var decoded = 0, written = 0
        var lastPts = Int64.min, lastDuration: Int64 = 0
        var corruptReports = 0
        let defaultDuration = max(1, av_rescale_q(1, av_inv_q(config.frameRate), st.pointee.time_base))

        func writeEncoded(_ enc: Encoder, stream: Int, counting: Bool) throws {
            while case .value = try enc.receive(into: outPacket) {
                outPacket.pointer.pointee.stream_index = Int32(stream)
                outPacket.rescale(from: enc.timeBase, to: output.timeBase(ofStream: stream))
                try output.write(outPacket)
                if counting { written += 1 }
            }
        }

        func encodeVideo(_ f: Frame?) throws {
            while try !encoder.send(f) { try writeEncoded(encoder, stream: videoOut, counting: true) }
            try writeEncoded(encoder, stream: videoOut, counting: true)
        }

        func drainDecoder() throws {
            while case .value = try decoder.receive(into: frame) {
                try cancelCheck()
                var pts = frame.pointer.pointee.best_effort_timestamp
                let duration = frame.duration > 0 ? frame.duration : defaultDuration
                if pts == vfx_nopts() { pts = lastPts == .min ? 0 : lastPts + lastDuration }
                if lastPts != .min && pts <= lastPts {
                    // Encoders need strictly increasing times; nudge duplicates forward.
                    pts = lastPts + 1
                }
                lastPts = pts; lastDuration = duration
                let out = try stage.process(frame)
                out.pts = pts
                out.duration = duration
                out.pointer.pointee.pict_type = AV_PICTURE_TYPE_NONE
                decoded += 1
                try encodeVideo(out)
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
                if corruptReports <= 3 { warn("corrupt video data skipped (\(message))") }
            }
            try drainDecoder()
        }

        func transcodeAudio(_ route: AudioRoute, _ p: Packet?) throws {
            guard let dec = route.decoder, let conv = route.converter, let enc = route.encoder else { return }
            if case .corrupt = try dec.send(p) { return }
            while case .value = try dec.receive(into: audioFrame) {
                try conv.push(audioFrame)
                audioFrame.unref()
                try pullAudio(route, conv, enc)
            }
            if p == nil {
                try conv.push(nil)
                try pullAudio(route, conv, enc)
                while try !enc.send(nil) { try writeEncoded(enc, stream: route.outputIndex, counting: false) }
                try writeEncoded(enc, stream: route.outputIndex, counting: false)
            }
        }

        func pullAudio(_ route: AudioRoute, _ conv: AudioConverter, _ enc: Encoder) throws {
            while case .value = try conv.pull(into: audioFrame) {
                if audioFrame.pts != vfx_nopts() { audioFrame.pts = av_rescale_q(audioFrame.pts, conv.timeBase, enc.timeBase) }
                while try !enc.send(audioFrame) { try writeEncoded(enc, stream: route.outputIndex, counting: false) }
                audioFrame.unref()
                try writeEncoded(enc, stream: route.outputIndex, counting: false)
            }
        }

        reading: while true {
            try cancelCheck()
            switch try input.read(into: packet) {
            case .endOfFile: break reading
            case .corrupt(let message):
                warn("input ends early: \(message); processed what decoded")
                break reading
            case .packet: break
            }
            defer { packet.unref() }
            if packet.streamIndex == videoIndex {
                try sendVideo(packet)
            } else if let route = audio[packet.streamIndex] {
                if route.decoder != nil {
                    try transcodeAudio(route, packet)
                } else {
                    packet.pointer.pointee.stream_index = Int32(route.outputIndex)
                    packet.pointer.pointee.pos = -1
                    packet.rescale(from: route.inputTimeBase, to: output.timeBase(ofStream: route.outputIndex))
                    try output.write(packet)
                }
            }
        }

        // Drain: decoder, then effects (stateless), then encoder; then the trailer, once.
        try sendVideo(nil)
        try encodeVideo(nil)
        for route in audio.values where route.decoder != nil { try transcodeAudio(route, nil) }
        guard decoded > 0 else { throw MediaError.noFramesDecoded(request.input) }
        try output.finish()
        guard written == decoded else { throw MediaError.frameCountMismatch(decoded: decoded, written: written) }
        if let announced = input.info(stream: videoIndex).frameCount, abs(announced - decoded) > max(2, announced / 20) {
            warn("decoded \(decoded) frames where the container announced \(announced)")
        }
        let seconds = Date().timeIntervalSince(started)
        return ProcessResult(output: path, framesDecoded: decoded, framesWritten: written, encoder: encoder.name,
                             fallbackFrom: fallbackFrom, audioStreams: audio.count, seconds: seconds,
                             framesPerSecond: seconds > 0 ? Double(decoded) / seconds : 0, warnings: warnings)
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
    private func openEncoder(config: inout VideoEncoderConfig, path: String) throws -> (Encoder, String?) {
        let name = request.outputCodec
        do {
            return (try Encoder.openVideo(name: name, config: config, path: path), nil)
        } catch let MediaError.encoderUnavailable(_, reason) {
            guard let entry = CodecCatalog.entry(named: name), entry.hardware else {
                throw MediaError.encoderUnavailable(name: name, reason: reason)
            }
            guard request.allowFallback else {
                throw MediaError.encoderUnavailable(name: name, reason: reason + " (fallback disabled by --no-fallback)")
            }
            var lastError: Error = MediaError.encoderUnavailable(name: name, reason: reason)
            for fallback in entry.fallbacks {
                var c = config
                // NVENC presets (p1...p7) mean nothing to CPU encoders: use the fallback's default.
                if let p = c.preset, p.hasPrefix("p"), p.count == 2 { c.preset = nil }
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
