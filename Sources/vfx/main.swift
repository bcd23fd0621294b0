import ArgumentParser
import Dispatch
import Effects
import ErrorTaxonomy
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Jobs
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
        abstract: "VideoFX: stream a video through a chain of effects into H.264, HEVC, AV1 or VP9.",
        subcommands: [ProcessCommand.self, BatchCommand.self, CompareCommand.self, EffectsCommand.self, PreviewCommand.self, Probe.self, Codecs.self, Serve.self, BenchKernels.self]
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
    static let configuration = CommandConfiguration(commandName: "process", abstract: "Apply a chain of effects to a video and encode the result.")

    @Argument(help: "Input: a path, or a file://, http(s):// or data: URL. Several inputs (or an output folder) make a batch, as `vfx batch` with its defaults.")
    var inputs: [String] = []

    @Option(name: .shortAndLong, help: "Output file; its extension picks the container (.mp4, .mov, .mkv, .webm). A folder (ending in '/' or existing) for a batch.")
    var output: String

    @OptionGroup var steps: StepOptions

    @OptionGroup var encoding: EncodeOptions

    var input: String { inputs.first ?? "" }

    func validate() throws {
        guard !inputs.isEmpty else { throw ValidationError("give an input") }
    }

    /// Several inputs, or a folder as the output: run them as a batch.
    private var isBatch: Bool { inputs.count > 1 || output.hasSuffix("/") || InputDiscovery.isDirectory(output) }

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    @Flag(help: "Show FFmpeg's own messages.")
    var verbose = false

    func run() throws {
        FFmpegLog.configure(verbose: verbose)
        if isBatch { return try runBatch() }
        var request = ProcessRequest(input: input, output: output)
        do {
            request.steps = try steps.resolve()
        } catch {
            printError("error: \(JobFailure(input: input, output: output, underlying: error))")
            throw ExitCode(ErrorCategory.of(error).exitCode)
        }
        request.recipe.settings = encoding.settings
        request.allowFallback = !encoding.noFallback
        request.threads = encoding.threads

        let cancellation = CancellationFlag()
        let interrupts = InterruptHandler(cancelling: cancellation)
        defer { interrupts.stop() }

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
            throw ExitCode(ErrorCategory.cancelled.exitCode)
        } catch {
            bar.finish()
            printError("error: \(error)")
            throw ExitCode(ErrorCategory.of(error).exitCode)
        }
    }
}

extension ProcessCommand {
    func runBatch() throws {
        try reportingFailure {
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let items = try BatchPlanner.plan(inputs: try InputDiscovery.expand(inputs), outputDirectory: output, names: try OutputNames(),
                                              steps: try steps.resolve(), settings: encoding.settings)
            var options = BatchOptions.default
            if encoding.threads > 0 { options.threadsPerJob = encoding.threads }
            let code = BatchRunner.run(items: items, options: options, allowFallback: !encoding.noFallback, quiet: quiet, reportPath: nil)
            if code != 0 { throw ExitCode(code) }
        }
    }
}

/// How outputs are encoded: shared by `process` and `batch`.
struct EncodeOptions: ParsableArguments {
    @Option(help: "Encoder: h264_nvenc, av1_nvenc, hevc_nvenc (NVIDIA, with CPU fallback), libx264, libsvtav1, libaom-av1, libx265, libvpx-vp9.")
    var outputCodec: String = CodecCatalog.defaultCodec

    @Option(help: "Constant quality (CRF; NVENC's cq): 0...51 for H.264/HEVC, 0...63 for AV1/VP9. Lower is better.")
    var crf: Int = OutputSettings.defaultQuality

    @Option(help: "Encoder preset. Defaults: libx264/libx265 medium, libsvtav1 8, libaom-av1 and libvpx-vp9 cpu-used 6 and 4, NVENC p4.")
    var preset: String?

    @Option(help: "Output pixel format (default: yuv420p, which plays everywhere, or yuv420p10le for HDR sources where the encoder takes it); yuv444p, yuv420p10le and others where the encoder takes them.")
    var pixelFormat: String?

    @Flag(help: "Drop audio (by default every audio stream is kept).")
    var noAudio = false

    @Flag(help: "Fail instead of falling back to a CPU encoder when a hardware encoder cannot open.")
    var noFallback = false

    @Option(help: "Codec threads (0: one per core; in a batch, the cores shared among the jobs).")
    var threads: Int = 0

    var settings: OutputSettings {
        OutputSettings(codec: outputCodec, quality: crf, preset: preset, pixelFormat: pixelFormat, audio: noAudio ? .drop : .keep)
    }
}

/// The options that say which steps run: `--chain`, or the seed's `--effect` with its parameter.
struct StepOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Steps in order, separated by '|': name or name:key=value,key=value, e.g. \"trim:start=2,end=8 | resize:width=1280 | posterize:levels=6 | vignette\". Steps: \(EffectCatalogue.all.map(\.name).joined(separator: ", ")) (see `vfx effects`).", valueName: "steps"))
    var chain: String?

    @Option(help: "The seed's single effect: posterize, threshold or none (default: posterize; not with --chain).")
    var effect: String?

    @Option(help: ArgumentHelp("Posterize: levels per RGB channel, \(EffectCatalogue.posterize.parameter("levels")!.rangeText) (default: \(EffectCatalogue.posterize.parameter("levels")!.defaultValue!))."))
    var numLevels: Int?

    @Option(help: ArgumentHelp("Threshold: cut-off in \(EffectCatalogue.threshold.parameter("level")!.rangeText) (default: \(EffectCatalogue.threshold.parameter("level")!.defaultValue!)); channels above become 255, the rest 0."))
    var threshold: Double?

    /// The steps, checked against the catalogue.
    func resolve() throws -> [ChainStep] {
        let steps: [ChainStep]
        if let chain {
            guard effect == nil, numLevels == nil, threshold == nil else {
                throw RecipeError.syntax("give either --chain or --effect/--num-levels/--threshold, not both")
            }
            steps = try Chain.parse(chain)
        } else {
            steps = try Recipe.seedSteps(effect: effect, numLevels: numLevels, threshold: threshold)
        }
        do { _ = try Chain.resolve(steps) } catch let RecipeError.badParameter(step, parameter, value, reason) where chain == nil {
            // Name the flag the user typed.
            let flag = ["levels": "num-levels", "level": "threshold"][parameter] ?? parameter
            throw RecipeError.badParameter(step: step, parameter: "--" + flag, value: value, reason: reason)
        }
        return steps
    }
}

/// Runs `body`; an error other than an exit status becomes one line on standard error and the
/// exit status of its category.
func reportingFailure(_ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode {
        throw e
    } catch {
        printError("error: \(error)")
        throw ExitCode(ErrorCategory.of(error).exitCode)
    }
}

/// Ctrl-C and SIGTERM cancel a job (which then removes what it wrote) instead of killing the process.
final class InterruptHandler {
    private let sources: [DispatchSourceSignal]

    init(cancelling flag: CancellationFlag) {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        sources = [SIGINT, SIGTERM].map { sig in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler { flag.cancel() }
            s.resume()
            return s
        }
    }

    func stop() { sources.forEach { $0.cancel() } }
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
        if quiet && s.hasPrefix("note:") { return }
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
        // Composed colour chains: five curves (one table), and five steps with cross-channel ones (curve, lattice, curve).
        for (label, chain) in [("5 curves", "adjust:brightness=0.05 | adjust:contrast=1.2 | adjust:gamma=1.1 | invert | posterize:levels=6"),
                               ("5 mixed", "adjust:brightness=0.05,contrast=1.2 | hue:degrees=20 | sepia:strength=0.4 | invert | posterize:levels=6")] {
            let ops = try Chain.resolve(try Chain.parse(chain)).flatMap { step -> [ColorOp] in
                guard case .color(let lower) = step.definition.lowering else { return [] }
                return try lower(step.parameters, { _ in [] })
            }
            let map = ColorComposer.compose(ops)
            for isa in InstructionSet.available {
                let fused = FusedYUVKernel(map: map, colorSpace: .bt709(), instructionSet: isa)
                let number = rate { fused.process(src, into: dst) }.fixed(1)
                print(padded(label, 11) + padded("SIMD \(padded(isa.rawValue, 9))fused YUV420->RGB->YUV", 39)
                      + String(repeating: " ", count: max(1, 9 - number.count)) + number)
            }
        }
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

struct EffectsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "effects", abstract: "List the effects and their parameters.")

    @Flag(help: "Print the catalogue as JSON.")
    var json = false

    @Flag(help: "Print the catalogue as a Markdown table.")
    var markdown = false

    func run() throws {
        if markdown {
            print(EffectDescription.markdownTable())
            return
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(EffectDescription.all), as: UTF8.self))
            return
        }
        for kind in EffectKind.allCases {
            print(["preprocess": "Preprocessing", "color": "Colour (consecutive ones fuse into one pass)", "spatial": "Spatial and time"][kind.rawValue]! + ":")
            for d in EffectCatalogue.all where d.kind == kind {
                print("  " + padded(d.name, 11) + d.summary)
                for p in d.parameters {
                    var line = "      " + padded(p.name, 11) + p.rangeText
                    if let unit = p.unit { line += " \(unit)" }
                    if let v = p.defaultValue { line += ", default \(v)" } else if p.required { line += ", required" }
                    print(line + ". " + p.summary)
                }
            }
        }
        print("\nChain them with '|': vfx process in.mp4 -o out.mp4 --chain \"trim:start=2,end=8 | resize:width=1280 | posterize:levels=6 | vignette\"")
    }
}

struct PreviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "preview", abstract: "Render one frame of a chain to a PNG (optionally beside the original).")

    @Argument(help: "Input: a path, or a file://, http(s):// or data: URL.")
    var input: String

    @Option(name: .shortAndLong, help: "The .png to write.")
    var output: String

    @OptionGroup var steps: StepOptions

    @Option(help: "Seconds into the output to show.")
    var at: Double = 0

    @Flag(help: "Show the original on the left and the result on the right.")
    var compare = false

    func run() throws {
        FFmpegLog.configure(verbose: false)
        do {
            var preview = Preview(input: input, output: output, steps: try steps.resolve())
            preview.at = at
            preview.sideBySide = compare
            let result = try preview.render()
            printError("wrote \(output): \(result.width)x\(result.height), the frame at \(result.time.fixed(3))s")
        } catch {
            printError("error: \(error)")
            throw ExitCode(ErrorCategory.of(error).exitCode)
        }
    }
}
