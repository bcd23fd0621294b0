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
    let cancellation: CancellationFlag
    let onProgress: (JobProgress) -> Void
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
            // The check runs once the pass's codecs and files are released, so it adds nothing to peak memory.
            var outcome = try Transcode(runner: self, path: temp, container: container, seek: true).run()
            if case .seekMissed = outcome {
                // The seek failed or landed after the trim's start: read from the beginning instead.
                unlink(temp)
                outcome = try Transcode(runner: self, path: temp, container: container, seek: false).run()
            }
            guard case .finished(var result, let timing) = outcome else { throw MediaError.noFramesDecoded(request.inputName ?? request.input) }
            // A chunk is no file for a player (MP4 shows its late start as an empty edit): the stitch checks the whole.
            if request.window == nil { try Self.verifyTiming(path: temp, name: request.outputName ?? request.output, timing) }
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

    /// A hidden name beside the target with the same extension (so the muxer and rename stay on one file
    /// system); throws naming `output` when its folder is missing or not writable.
    public static func temporaryPath(for output: String) throws -> String {
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
        return dir + "/" + TemporaryFiles.name(for: output, token: token)
    }

    func cancelCheck() throws { if cancellation.isCancelled { throw MediaError.cancelled } }

    // MARK: - Passes (see Transcode)

    /// Where the written content starts and ends, in seconds, and how far a player's view may differ.
    struct TimingExpectation {
        var start: Double
        var end: Double
        var tolerance: Double
    }

    /// A leading trim that starts at least this many seconds in lets the demuxer jump close to its start.
    static let seekAfter = 5.0

    /// Decoder threads for a job (0: FFmpeg's choice, one more than the cores).
    ///
    /// A CPU encoder already keeps every core busy with its own threads; more decoder frame threads
    /// then compete with it and each holds frames in memory. Two are the balance (`scripts/bench
    /// --steps` at 1080p on 2 cores: against one, resize 0.88 -> 0.97 of ffmpeg's wall time, crop
    /// 0.91 -> 0.96, trim 0.90 -> 0.96, blur 0.97 -> 1.07, peak RSS still at or below ffmpeg's; FFmpeg's
    /// own choice, three, passed ffmpeg's RSS on resize and blur). So beside a CPU encoder the decoder
    /// gets two threads, and a quarter of the cores from 8 up, where two could fall behind on 4K HEVC
    /// or AV1. A hardware encoder leaves the cores to decoding and the effect.
    static func decoderThreads(requested: Int, hardwareEncoder: Bool, cores: Int) -> Int {
        if requested > 0 { return requested }
        if hardwareEncoder { return 0 }
        return max(2, cores / 4)
    }

    /// Threads the fused colour kernel spreads each frame over: the cores the encoder leaves idle. A
    /// hardware encoder leaves them all (up to 8); a CPU encoder told to use `requested` threads leaves
    /// what it and the decoder beside it (as many again) do not take; a CPU encoder on every core, none.
    static func kernelBands(requested: Int, hardwareEncoder: Bool, cores: Int) -> Int {
        if hardwareEncoder { return max(1, min(cores, 8)) }
        guard requested > 0 else { return 1 }
        return max(1, min(cores - requested - decoderThreads(requested: requested, hardwareEncoder: false, cores: cores), 8))
    }

    /// Opens the requested encoder, or its CPU fallback (logged) when it is hardware that cannot open here.
    func openEncoder(config: inout VideoEncoderConfig, path: String, hdr: Bool) throws -> (Encoder, String?) {
        let name = request.outputCodec
        do {
            return (try Encoder.openVideo(name: name, config: config, path: path), nil)
        } catch let MediaError.encoderUnavailable(_, reason) {
            guard let entry = OutputCatalogue.encoder(named: name), entry.isHardware else {
                throw MediaError.encoderUnavailable(name: name, reason: reason)
            }
            guard request.allowFallback else {
                throw MediaError.encoderUnavailable(name: name, reason: reason + " (falling back to a CPU encoder was turned off)")
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
