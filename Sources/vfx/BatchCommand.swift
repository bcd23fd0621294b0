import ArgumentParser
import Dispatch
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import ErrorTaxonomy
import Jobs
import MediaIO
import Pipeline
import Recipe
import Synchronization

struct BatchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch", abstract: "Process many videos: files, folders (searched recursively) or a manifest, several at a time.",
        discussion: """
        Outputs are named by --name (fields {stem}, {ext}, {index}, {effect}) in the output folder; two items that \
        would write the same file, or an output that is an input, stop the batch before it starts. Running the same \
        batch again skips items whose output is already there and reads as a finished video (--force redoes them). \
        Exit status: 0 when every item succeeded or was skipped, 1 when any failed, 130 when interrupted.
        """)

    @Argument(help: "Inputs: files, folders (every video inside, by content), or http(s) URLs.")
    var inputs: [String] = []

    @Option(name: .shortAndLong, help: "The output folder (created when missing).")
    var output: String

    @Option(help: "A CSV (with a header row) or JSON Lines file of items: input, and optionally output, chain, codec, crf, preset, pixel_format, audio, decoder.")
    var manifest: String?

    @Option(help: "Only files in folders whose name (or path below the folder) matches this glob, e.g. '*.mov'.")
    var include: String?

    @Option(help: ArgumentHelp("Output names; fields {stem}, {ext}, {index}, {effect}. {ext} is the input's container when it holds the output codec, else the codec's own (.webm for VP9, .mp4 otherwise).", valueName: "template"))
    var name: String = OutputNames.defaultTemplate

    @OptionGroup var steps: StepOptions
    @OptionGroup var encoding: EncodeOptions

    @Option(help: ArgumentHelp("Videos processed at once (default: \(WorkerPool.defaultWorkers(cores: ProcessInfo.processInfo.activeProcessorCount).jobs) here: one per core below 4 cores, half the cores from 4 up, with the cores shared among their codecs)."))
    var jobs: Int?

    @Option(help: "Write a JSON report of every item to this file.")
    var report: String?

    @Option(help: "Stop starting new items after this many failures.")
    var maxFailures: Int?

    @Option(help: "Tries after the first for items that fail with a transient error (network, 5xx, timeouts), with backoff.")
    var retries: Int = 2

    @Flag(help: "Redo items whose output is already there.")
    var force = false

    @Flag(name: .shortAndLong, help: "Only the summary and errors.")
    var quiet = false

    @Option(help: "Queue the items in this PostgreSQL cluster's database (postgres://...) for its workers, which must see the same files at the same paths, and follow them (the same progress, report and exit status).")
    var database: String?

    @Flag(help: "With --database: return once the items are queued (follow them with `vfx queue`).")
    var detach = false

    func run() throws {
        FFmpegLog.configure(verbose: false)
        try reportingFailure {
            guard !inputs.isEmpty || manifest != nil else { throw BatchError.nothingToDo }
            if let jobs, !(1...256).contains(jobs) { throw RecipeError.badParameter(step: "batch", parameter: "--jobs", value: "\(jobs)", reason: "must be in 1...256") }
            if let m = maxFailures, m < 1 { throw RecipeError.badParameter(step: "batch", parameter: "--max-failures", value: "\(m)", reason: "must be 1 or more") }
            guard (0...10).contains(retries) else { throw RecipeError.badParameter(step: "batch", parameter: "--retries", value: "\(retries)", reason: "must be in 0...10") }
            try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
            let chain = try steps.resolve()
            let entries = try manifest.map(Manifest.read) ?? []
            let items = try BatchPlanner.plan(inputs: try InputDiscovery.expand(inputs, include: include), manifest: entries,
                                              outputDirectory: output, names: try OutputNames(name), steps: chain, settings: encoding.settings)
            var options = BatchOptions.default
            if let jobs { options.jobs = jobs; options.threadsPerJob = max(1, ProcessInfo.processInfo.activeProcessorCount / jobs) }
            if encoding.threads > 0 { options.threadsPerJob = encoding.threads }
            options.retries = retries
            options.maxFailures = maxFailures
            options.force = force
            if detach && database == nil { throw RecipeError.badParameter(step: "batch", parameter: "--detach", value: "", reason: "needs --database") }
            if let database {
                let code = try QueuedBatchRunner.run(items: items, database: database, detach: detach, options: options, quiet: quiet, reportPath: report)
                if code != 0 { throw ExitCode(code) }
                return
            }
            let code = BatchRunner.run(items: items, options: options, allowFallback: !encoding.noFallback, quiet: quiet, reportPath: report)
            if code != 0 { throw ExitCode(code) }
        }
    }
}

/// Runs a planned batch with progress on standard error, the summary, and the report; returns the exit status.
enum BatchRunner {
    static func run(items: [BatchItem], options: BatchOptions, allowFallback: Bool, quiet: Bool, reportPath: String?) -> Int32 {
        let cancellation = CancellationFlag()
        let interrupts = InterruptHandler(cancelling: cancellation)
        defer { interrupts.stop() }
        let screen = BatchScreen(quiet: quiet)
        if !quiet { screen.line("\(items.count) item\(items.count == 1 ? "" : "s"), \(options.jobs) at a time") }
        let batch = Batch(items: items, options: options, cancellation: cancellation, template: { recipe in
            var request = ProcessRequest(recipe: recipe)
            request.allowFallback = allowFallback
            return request
        }, onEvent: { event in screen.handle(event) })
        let report = batch.run()
        screen.finish()
        printSummary(report, interrupted: cancellation.isCancelled)
        if let reportPath, !write(report, to: reportPath) { return 1 }
        if cancellation.isCancelled { return ErrorCategory.cancelled.exitCode }
        return report.failed > 0 || report.notStarted > 0 ? 1 : 0
    }

    /// Writes the JSON report; false (after saying why) when it cannot.
    static func write(_ report: BatchReport, to path: String) -> Bool {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        do { try encoder.encode(report).write(to: URL(fileURLWithPath: path)) } catch {
            printError("error: cannot write the report \(path): \(error)")
            return false
        }
        return true
    }

    static func printSummary(_ report: BatchReport, interrupted: Bool) {
        var s = "\(report.succeeded) succeeded, \(report.failed) failed, \(report.skipped) skipped"
        if report.notStarted > 0 { s += ", \(report.notStarted) not started" + (interrupted ? " (interrupted)" : " (failure limit)") }
        printError(s)
        let failed = report.items.filter { $0.status == .failed }
        guard !failed.isEmpty else { return }
        let width = min(48, failed.map(\.input.count).max() ?? 0)
        printError(padded("failed input", width) + "  category       error")
        for item in failed {
            printError(padded(item.input, width) + "  " + padded(item.error?.category.rawValue ?? "", 13) + "  " + (item.error?.message ?? ""))
        }
    }
}

/// Batch output on standard error: a status line redrawn on a terminal (plain lines every 2 s
/// otherwise) and one line per finished item. Worker threads call it; the lock orders their lines.
final class BatchScreen: Sendable {
    private let quiet: Bool
    private let status = StatusLine()
    private let lastDraw = Mutex(0.0)

    init(quiet: Bool) { self.quiet = quiet }

    func handle(_ event: BatchEvent) {
        switch event {
        case .started: break
        case let .log(_, text):
            if text.hasPrefix("warning:") || text.contains("trying again") { line(text, force: true) }
        case let .finished(_, item):
            switch item.status {
            case .succeeded: line("ok    \(item.input) -> \(item.output) (\(item.frames) frames, \(item.seconds.fixed(1))s, \(item.encoder ?? ""))")
            case .skipped: line("skip  \(item.input): \(item.output) is already there")
            case .failed: line("FAIL  \(item.error?.message ?? item.input)", force: true)
            case .notStarted: break
            }
        case .progress(let p):
            guard !quiet else { return }
            let now = Date().timeIntervalSince1970
            let due = lastDraw.withLock { last in
                guard now - last >= (status.isTerminal ? 0.2 : 2) else { return false }
                last = now
                return true
            }
            guard due else { return }
            if status.isTerminal { status.show(p.line) } else { printError(p.line) }
        }
    }

    func line(_ text: String, force: Bool = false) {
        guard !quiet || force else { return }
        status.print(text)
    }

    func finish() { status.end() }
}
