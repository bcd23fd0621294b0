import ArgumentParser
import Dispatch
import Effects
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MediaIO
import Pipeline
#if canImport(Glibc)
import Glibc
#endif

// This binary links no Foundation and no server stack, which keeps `vfx process` small; `vfx serve`
// (the `Serve` command) hands its arguments to the `vfx-server` binary beside it. `vfx help serve`
// would only describe that hand-over, so it asks the server for its options instead.
if Array(CommandLine.arguments.dropFirst()) == ["help", "serve"] {
    ServerLauncher.exec(arguments: ["--help"])
}
VFX.main()

struct VFX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vfx",
        abstract: "VideoFX: stream a video through an effect (posterize, threshold) into H.264, HEVC, AV1 or VP9.",
        subcommands: [ProcessCommand.self, Probe.self, Codecs.self, Serve.self, BenchKernels.self]
    )
}

/// Writes one line to standard error.
func printError(_ s: String) {
    writeError(s + "\n")
}

/// `s` with spaces on the right up to `width` characters (never cut).
func padded(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

/// Writes text to standard error as it is.
func writeError(_ s: String) {
    var bytes = Array(s.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return }
        bytes = bytes.dropFirst(n)
    }
}

struct ProcessCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "process", abstract: "Apply an effect to a video and encode the result.")

    @Argument(help: "Input: a path, or a file://, http(s):// or data: URL.")
    var input: String

    @Option(name: .shortAndLong, help: "Output file; its extension picks the container (.mp4, .mov, .mkv, .webm).")
    var output: String

    @Option(help: "Effect: posterize, threshold or none.")
    var effect: String = "posterize"

    @Option(help: "Posterize: levels per RGB channel, 2...256.")
    var numLevels: Int = 25

    @Option(help: "Threshold: cut-off in 0...1; channels above become 255, the rest 0.")
    var threshold: Double = 0.5

    @Option(help: "Encoder: h264_nvenc, av1_nvenc, hevc_nvenc (NVIDIA, with CPU fallback), libx264, libsvtav1, libaom-av1, libx265, libvpx-vp9.")
    var outputCodec: String = "h264_nvenc"

    @Option(help: "Constant quality (CRF; NVENC's cq): 0...51 for H.264/HEVC, 0...63 for AV1/VP9. Lower is better.")
    var crf: Int = 19

    @Option(help: "Encoder preset. Defaults: libx264/libx265 medium, libsvtav1 8, libaom-av1 and libvpx-vp9 cpu-used 6 and 4, NVENC p4.")
    var preset: String?

    @Option(help: "Output pixel format (default: yuv420p, which plays everywhere, or yuv420p10le for HDR sources where the encoder takes it); yuv444p, yuv420p10le and others where the encoder takes them.")
    var pixelFormat: String?

    @Flag(help: "Drop audio (by default every audio stream is kept).")
    var noAudio = false

    @Flag(help: "Fail instead of falling back to a CPU encoder when a hardware encoder cannot open.")
    var noFallback = false

    @Option(help: "Codec threads (0: one per core).")
    var threads: Int = 0

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    @Flag(help: "Show FFmpeg's own messages.")
    var verbose = false

    func run() throws {
        FFmpegLog.configure(verbose: verbose)
        var request = ProcessRequest(input: input, output: output)
        do {
            request.effect = try EffectChoice.named(effect, levels: numLevels, threshold: threshold)
        } catch {
            printError("error: \(JobFailure(input: input, output: output, underlying: error))")
            throw ExitCode.failure
        }
        request.outputCodec = outputCodec
        request.quality = crf
        request.preset = preset
        request.pixelFormat = pixelFormat
        request.keepAudio = !noAudio
        request.allowFallback = !noFallback
        request.threads = threads

        let cancellation = CancellationFlag()
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let sources = [SIGINT, SIGTERM].map { sig -> DispatchSourceSignal in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { cancellation.cancel() }
            s.resume()
            return s
        }
        defer { sources.forEach { $0.cancel() } }

        let bar = ProgressReporter(quiet: quiet)
        let runner = Runner(request: request, cancellation: cancellation,
                            onProgress: { bar.update($0) }, onLog: { bar.log($0) })
        do {
            let result = try runner.run()
            bar.finish()
            if !quiet {
                printError("wrote \(result.output): \(result.framesWritten) frames with \(result.encoder) in "
                           + "\(result.seconds.fixed(2))s (\(result.framesPerSecond.fixed(1)) fps)")
            }
        } catch MediaError.cancelled {
            bar.finish()
            printError("error: cancelled; no output written")
            throw ExitCode(130)
        } catch {
            bar.finish()
            printError("error: \(error)")
            throw ExitCode.failure
        }
    }
}

/// Draws progress: a bar redrawn in place on a terminal, a plain line every second otherwise.
final class ProgressReporter: @unchecked Sendable {
    // Only touched from the runner's thread (progress and logs arrive synchronously from it).
    private let quiet: Bool
    private let terminal = isatty(STDERR_FILENO) != 0
    private var lastDraw = Date.distantPast
    private var drawn = false
    private var pending: JobProgress?

    init(quiet: Bool) { self.quiet = quiet }

    func update(_ p: JobProgress) {
        guard !quiet else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= (terminal ? 0.1 : 1) else { pending = p; return }
        lastDraw = now
        pending = nil
        if terminal {
            var bar = ""
            if let total = p.totalFrames, total > 0 {
                let filled = min(30, p.framesDone * 30 / total)
                bar = "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled) + "] "
            }
            writeError("\r\u{1B}[K" + bar + p.line)
            drawn = true
        } else {
            printError(p.line)
        }
    }

    func log(_ s: String) {
        if drawn { writeError("\r\u{1B}[K"); drawn = false }
        printError(s)
    }

    /// Shows the last state (the final frame count), then ends the line.
    func finish() {
        if let p = pending { lastDraw = .distantPast; update(p) }
        if drawn { writeError("\n"); drawn = false }
    }
}

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a media file's container and streams.")

    @Argument(help: "Input: a path, or a file://, http(s):// or data: URL.")
    var input: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        FFmpegLog.configure(verbose: false)
        let info: MediaInfo
        do { info = try MediaInfo.probe(input) } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(info), as: UTF8.self))
            return
        }
        print("\(info.input): \(info.format)" + (info.duration.map { ", \($0.fixed(3))s" } ?? ""))
        for s in info.streams {
            var parts = ["#\(s.index)", s.kind, s.codec]
            if let w = s.width, let h = s.height { parts.append("\(w)x\(h)") }
            if let p = s.pixelFormat { parts.append(p) }
            if let r = s.frameRate { parts.append("\(r.fixed(3)) fps") }
            if let n = s.frameCount { parts.append("\(n) frames") }
            if let r = s.sampleRate { parts.append("\(r) Hz") }
            if let c = s.channels { parts.append("\(c) ch") }
            if let r = s.rotation { parts.append("rotated \(r)°") }
            print("  " + parts.joined(separator: "  "))
        }
    }
}

struct Codecs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the output codecs and whether each opens on this machine.")

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        FFmpegLog.configure(verbose: false)
        let list = CodecCatalog.probe()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(list), as: UTF8.self))
            return
        }
        for a in list {
            let entry = CodecCatalog.entry(named: a.name)
            var line = padded(a.name, 12) + " " + padded(a.format, 5)
            line += a.hardware ? " gpu " : " cpu "
            if a.opens { line += " opens" } else {
                line += " unavailable: \(a.reason ?? "?")"
                if let fb = entry?.fallbacks.first, a.hardware { line += " (falls back to \(fb))" }
            }
            print(line)
        }
        let copies = InstructionSet.available.map(\.rawValue).joined(separator: ", ")
        print("effect kernels: \(InstructionSet.preferred) (this CPU runs \(copies); VFX_ISA picks one)")
    }
}

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels", abstract: "Measure the effect kernels alone (megapixels per second, one core).",
        shouldDisplay: false)

    @Option(help: "Frame width.") var width = 1920
    @Option(help: "Frame height.") var height = 1080

    func run() throws {
        let w = width, h = height, cw = (w + 1) / 2, ch = (h + 1) / 2
        var rng = SystemRandomNumberGenerator()
        var buffers: [UnsafeMutablePointer<UInt8>] = []
        defer { buffers.forEach { $0.deallocate() } }
        func buffer(_ n: Int) -> UnsafeMutablePointer<UInt8> {
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
            for i in 0..<n { p[i] = UInt8.random(in: 0...255, using: &rng) }
            buffers.append(p)
            return p
        }
        let planes = (0..<3).map { _ in Plane(base: buffer(w * h), width: w, height: h, stride: w) }
        let rgb = RGBPlanes(r: planes[0], g: planes[1], b: planes[2])
        func yuv(chromaHeight: Int, shiftY: Int) -> YUVImage {
            YUVImage(y: Plane(base: buffer(w * h), width: w, height: h, stride: w),
                     u: Plane(base: buffer(cw * chromaHeight), width: cw, height: chromaHeight, stride: cw),
                     v: Plane(base: buffer(cw * chromaHeight), width: cw, height: chromaHeight, stride: cw),
                     chromaShiftX: 1, chromaShiftY: shiftY)
        }
        let src = yuv(chromaHeight: ch, shiftY: 1), dst = yuv(chromaHeight: ch, shiftY: 1)
        let src422 = yuv(chromaHeight: h, shiftY: 0)
        func rate(_ body: () -> Void) -> Double {
            body()
            var runs = 0
            let start = Date()
            repeat { body(); runs += 1 } while Date().timeIntervalSince(start) < 1
            return Double(runs * w * h) / Date().timeIntervalSince(start) / 1e6
        }
        print("kernel (\(w)x\(h))                                MP/s per core")
        for effect in [try Posterize(levels: 25) as any Effect, try Threshold(threshold: 0.5)] {
            guard let map = effect.channelMap else { continue }
            func row(_ kernel: String, _ rate: Double) {
                let number = rate.fixed(1)
                print(padded(effect.name, 11) + padded(kernel, 39) + String(repeating: " ", count: max(1, 9 - number.count)) + number)
            }
            row("reference, planar RGB", rate { effect.applyReference(to: rgb) })
            for isa in InstructionSet.available {
                row("SIMD \(padded(isa.rawValue, 9))planar RGB", rate { for p in rgb.all { map.apply(to: p, using: isa) } })
            }
            for isa in InstructionSet.available {
                let fused = FusedYUVKernel(map: map, colorSpace: .bt709(), instructionSet: isa)
                row("SIMD \(padded(isa.rawValue, 9))fused YUV420->RGB->YUV", rate { fused.process(src, into: dst) })
                row("SIMD \(padded(isa.rawValue, 9))fused 4:2:2 in, 4:2:0 out", rate { fused.process(src422, into: dst) })
            }
        }
    }
}
