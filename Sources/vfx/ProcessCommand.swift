import ArgumentParser
import ErrorTaxonomy
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Jobs
import MediaIO
import Pipeline
import Recipe

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
        guard SplitSetting(split) != nil else { throw ValidationError("--split: '\(split)' is not valid; it takes \(SplitSetting.valuesText)") }
        if let jobs, jobs < 1 { throw ValidationError("--jobs: '\(jobs)' is not valid; it takes a whole number of at least 1") }
    }

    /// Several inputs, or a folder as the output: run them as a batch.
    private var isBatch: Bool { inputs.count > 1 || output.hasSuffix("/") || InputDiscovery.isDirectory(output) }

    @Option(help: ArgumentHelp("Split the video into chunks encoded side by side and joined frame-exactly: \(SplitSetting.valuesText). auto splits into \(Int(SplitSetting.autoChunkSeconds)) s chunks when the video is longer than \(Int(SplitSetting.autoAboveSeconds)) s and more than one job can run.", valueName: "auto|off|seconds"))
    var split = "auto"

    @Option(help: "Chunks encoded at once when split (default: as `vfx batch`); --threads is then per chunk.")
    var jobs: Int?

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
        let fault = JobChild.testFault(for: input)
        let job = SplitJob(request: request, setting: SplitSetting(split) ?? .off, jobs: jobs,
                           threadsPerChunk: encoding.threads > 0 ? encoding.threads : nil)
        do {
            let result = try job.run(cancellation: cancellation,
                                     onProgress: { if $0.framesDone == 1 { JobChild.injectFault(fault) }; bar.update($0) },
                                     onLog: { bar.log($0) })
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
    @Option(help: ArgumentHelp("Encoder: \(OutputCatalogue.encoders.map { $0.isHardware ? "\($0.name) (NVIDIA, falls back to \($0.fallbacks.joined(separator: " or ")))" : $0.name }.joined(separator: ", ")).", valueName: "encoder"))
    var outputCodec: String = OutputCatalogue.defaultCodec

    @Option(help: ArgumentHelp("Constant quality (CRF; NVENC's cq), lower is better: \(OutputCatalogue.qualityRangesText).", valueName: "n"))
    var crf: Int = OutputSettings.defaultQuality

    @Option(help: ArgumentHelp("Encoder preset (\(Self.presetOptionsText)). Defaults: \(OutputCatalogue.encoders.compactMap { e in e.defaultPreset.map { "\(e.name) \($0)" } }.joined(separator: ", ")).", valueName: "preset"))
    var preset: String?

    @Option(help: "Output pixel format (default: yuv420p, which plays everywhere, or yuv420p10le for HDR sources where the encoder takes it); yuv444p, yuv420p10le and others where the encoder takes them.")
    var pixelFormat: String?

    @Flag(help: "Drop audio (by default every audio stream is kept).")
    var noAudio = false

    @Flag(help: "Fail instead of falling back to a CPU encoder when a hardware encoder cannot open.")
    var noFallback = false

    @Option(help: ArgumentHelp(DecoderChoice.help, valueName: DecoderChoice.allCases.map(\.rawValue).joined(separator: "|")))
    var decoder: DecoderChoice = .auto

    @Option(help: "Codec threads (0: one per core; in a batch, the cores shared among the jobs).")
    var threads: Int = 0

    /// "libaom-av1 and libvpx-vp9: cpu-used": encoders whose preset is not called `preset`.
    static var presetOptionsText: String {
        let other = OutputCatalogue.encoders.filter { $0.presetOption != "preset" }
        let options = Array(Set(other.map(\.presetOption))).sorted()
        return options.map { o in other.filter { $0.presetOption == o }.map(\.name).joined(separator: " and ") + ": " + o }.joined(separator: "; ")
    }

    var settings: OutputSettings {
        OutputSettings(codec: outputCodec, quality: crf, preset: preset, pixelFormat: pixelFormat, audio: noAudio ? .drop : .keep,
                       decoder: decoder == .auto ? nil : decoder)
    }
}

extension DecoderChoice: ExpressibleByArgument {}

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

/// Draws progress: a bar redrawn in place on a terminal, a plain line every second otherwise.
final class ProgressReporter: @unchecked Sendable {
    // Only touched from the runner's thread (progress and logs arrive synchronously from it).
    private let quiet: Bool
    private let status = StatusLine()
    private var lastDraw = Date.distantPast
    private var pending: JobProgress?

    init(quiet: Bool) { self.quiet = quiet }

    func update(_ p: JobProgress) {
        guard !quiet else { return }
        let now = Date()
        guard now.timeIntervalSince(lastDraw) >= (status.isTerminal ? 0.1 : 1) else { pending = p; return }
        lastDraw = now
        pending = nil
        if status.isTerminal {
            let bar = p.totalFrames.map { progressBar(p.framesDone, of: $0) + " " } ?? ""
            status.show(bar + p.line)
        } else {
            printError(p.line)
        }
    }

    func log(_ s: String) {
        if quiet && s.hasPrefix("note:") { return }
        status.print(s)
    }

    /// Shows the last state (the final frame count), then ends the line.
    func finish() {
        if let p = pending { lastDraw = .distantPast; update(p) }
        status.end(keep: true)
    }
}
