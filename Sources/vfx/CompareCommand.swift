import Analysis
import ArgumentParser
import ErrorTaxonomy
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MediaIO
import Pipeline

struct CompareCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "compare",
        abstract: "Compare encoders on one video: size, speed, PSNR, SSIM (VMAF where built in) and BD-rate, as a table, JSON, CSV or an HTML report.")

    @Argument(help: "Input: a path, or a file:// or http(s):// URL.")
    var input: String

    @Option(help: ArgumentHelp("Encoders, comma-separated, or all (default: \(CompareRequest.defaultCodecs.joined(separator: ","))).", valueName: "list"))
    var codecs: String?

    @Option(help: ArgumentHelp("Quality values (CRF or the encoder's scale) for every encoder, comma-separated; instead of --ladder.", valueName: "list"))
    var crf: String?

    @Option(help: "Points per encoder, spread over its useful quality range (default: \(CompareRequest.defaultLadder)).")
    var ladder: Int?

    @Option(help: ArgumentHelp("Presets, comma-separated: a preset for every encoder, or encoder:preset for one (default: each encoder's own).", valueName: "list"))
    var presets: String?

    @Option(help: ArgumentHelp("Steps applied before encoding (as `vfx process --chain`); the reference is the processed picture.", valueName: "steps"))
    var chain: String?

    @Option(help: ArgumentHelp("Use this many seconds of evenly spread segments instead of the whole input.", valueName: "seconds"))
    var sample: Double?

    @Option(help: "The encoder BD-rates are measured against.")
    var baseline: String = CompareRequest.defaultBaseline

    @Option(help: ArgumentHelp("The encode whose per-frame quality the HTML report charts, as encoder:preset:crf or encoder:crf (default: the baseline's middle point).", valueName: "point"))
    var chartPoint: String?

    @Option(help: "Encodes at once (default: as the cores allow).")
    var jobs: Int?

    @Option(name: .shortAndLong, help: ArgumentHelp("Write report.html, report.json and report.csv into this folder.", valueName: "dir"))
    var output: String?

    @Flag(help: "Keep the encoded files (in the -o folder's encodes/).")
    var keepEncodes = false

    @Flag(help: "Print the report as JSON instead of the table.")
    var json = false

    @Flag(help: "Print every point as CSV instead of the table.")
    var csv = false

    @Flag(name: .shortAndLong, help: "No progress output.")
    var quiet = false

    @Flag(help: "Show FFmpeg's own messages.")
    var verbose = false

    func validate() throws {
        if json && csv { throw ValidationError("give --json or --csv, not both") }
        if crf != nil && ladder != nil { throw ValidationError("give --crf or --ladder, not both") }
        if keepEncodes && output == nil { throw ValidationError("--keep-encodes needs -o DIR") }
    }

    func run() throws {
        FFmpegLog.configure(verbose: verbose)
        try reportingFailure {
            let request = try makeRequest()
            let plan = try ComparePlan.make(request, opens: Comparison.probeEncoder)
            if let output { try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true) }
            let work = try WorkDirectory(in: output)
            defer { work.remove() }
            var keep: String?
            if keepEncodes, let output {
                keep = output + "/encodes"
                try FileManager.default.createDirectory(atPath: keep!, withIntermediateDirectories: true)
            }
            let cancellation = CancellationFlag()
            let interrupts = InterruptHandler(cancelling: cancellation)
            defer { interrupts.stop() }
            let screen = CompareScreen(quiet: quiet)
            for u in plan.unavailable { screen.line("unavailable: \(u.codec): \(u.reason)") }
            let comparison = Comparison(request: request, plan: plan, workDirectory: work.path, keepEncodesIn: keep,
                                        cancellation: cancellation, launcher: ChildEncoder(cancellation: cancellation).launch,
                                        onEvent: screen.handle)
            let report: CompareReport
            do { report = try comparison.run() } catch MediaError.cancelled {
                screen.finish()
                throw ComparisonCancelled()
            }
            screen.finish()
            if let output {
                try write(report.html, to: output + "/report.html")
                try write(try Self.json(report), to: output + "/report.json")
                try write(report.csv, to: output + "/report.csv")
            }
            if json { print(try Self.json(report), terminator: "") } else if csv { print(report.csv, terminator: "") } else { print(report.table, terminator: "") }
            if let output, !quiet { printError("wrote \(output)/report.html, report.json and report.csv") }
            if report.points.isEmpty { throw CompareError("compare", "no encode succeeded") }
            if !report.failures.isEmpty {
                printError("error: \(report.failures.count) of \(plan.jobs.count) encodes failed (listed above)")
                throw ExitCode(ErrorCategory.internal.exitCode)
            }
        }
    }

    private func makeRequest() throws -> CompareRequest {
        func list(_ s: String?) -> [String]? {
            s.map { $0.split(separator: ",").map { String($0).trimmed }.filter { !$0.isEmpty } }
        }
        var r = CompareRequest(input: input)
        r.steps = try chain.map { try Chain.parse($0) } ?? []
        _ = try Chain.resolve(r.steps)
        if let c = list(codecs) { r.codecs = c }
        if let p = list(presets) { r.presets = p }
        if let q = list(crf) {
            r.qualities = try q.map { v in
                guard let n = Int(v) else { throw CompareError("--crf", "\"\(v)\" is not a whole number") }
                return n
            }
        }
        if let ladder { r.ladder = ladder }
        r.sample = sample
        r.baseline = baseline
        r.jobs = jobs
        if let chartPoint {
            let parts = chartPoint.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard (2...3).contains(parts.count), let crf = Int(parts.last!) else {
                throw CompareError("--chart-point", "\"\(chartPoint)\" is not encoder:preset:crf or encoder:crf")
            }
            let preset = parts.count == 3 ? parts[1] : OutputCatalogue.encoder(named: parts[0])?.defaultPreset
            r.chartPoint = EncodeJob(codec: parts[0], preset: preset, quality: crf)
        }
        return r
    }

    static func json(_ report: CompareReport) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        return String(decoding: try encoder.encode(report), as: UTF8.self) + "\n"
    }

    private func write(_ text: String, to path: String) throws {
        do { try Data(text.utf8).write(to: URL(fileURLWithPath: path)) } catch {
            throw MediaError.outputNotWritable(path: path, reason: "\(error)")
        }
    }
}

/// Ctrl-C or SIGTERM during a comparison.
struct ComparisonCancelled: Error, CategorizedError, CustomStringConvertible {
    var category: ErrorCategory { .cancelled }
    var description: String { "cancelled; no report written" }
}


/// A private folder for the reference and encodes, removed with everything in it.
struct WorkDirectory {
    let path: String

    init(in parent: String?) throws {
        let base = parent ?? (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp")
        var template = Array((base + "/.vfx-compare-XXXXXX").utf8CString)
        guard let made = mkdtemp(&template) else {
            throw MediaError.outputNotWritable(path: base, reason: String(cString: strerror(errno)))
        }
        path = String(cString: made)
    }

    func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// Runs each encode as `vfx process` in a child process, so its wall and CPU time are its own and a
/// crashing encoder takes nothing else down.
struct ChildEncoder: Sendable {
    let cancellation: CancellationFlag

    func launch(_ task: EncodeTask) throws -> EncodeCost {
        var arguments = ["vfx", "process", task.source, "-o", task.output, "--effect", "none", "--output-codec", task.job.codec,
                         "--crf", "\(task.job.quality)", "--no-audio", "--no-fallback", "--threads", "\(task.threads)", "--quiet"]
        if let preset = task.job.preset { arguments += ["--preset", preset] }
        let log = task.output + ".log"
        defer { unlink(log) }
        let started = Date()
        let (status, usage) = try spawnAndWait(executable: "/proc/self/exe", arguments: arguments, stderrPath: log)
        let wall = Date().timeIntervalSince(started)
        if cancellation.isCancelled { throw MediaError.cancelled }
        guard status == 0 else {
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            let last = text.split(separator: "\n").last { $0.hasPrefix("error:") }.map { String($0.dropFirst(7)) }
            throw CompareError(task.job.label, last ?? "the encode exited with status \(status)")
        }
        let seconds = { (t: timeval) in Double(t.tv_sec) + Double(t.tv_usec) / 1e6 }
        return EncodeCost(wallSeconds: wall, cpuSeconds: seconds(usage.ru_utime) + seconds(usage.ru_stime))
    }

    /// Starts the child, then waits for it (passing a cancellation on as SIGTERM); returns its exit
    /// status (128+signal when killed) and resource usage.
    private func spawnAndWait(executable: String, arguments: [String], stderrPath: String) throws -> (Int32, rusage) {
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 2, stderrPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        let argv = arguments.map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid = pid_t()
        let spawned = posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else { throw CompareError("compare", "cannot start an encode: \(String(cString: strerror(spawned)))") }
        var status: Int32 = 0
        var usage = rusage()
        var signalled = false
        while true {
            let r = wait4(pid, &status, WNOHANG, &usage)
            if r == pid { break }
            if r < 0 && errno != EINTR { throw CompareError("compare", "lost an encode: \(String(cString: strerror(errno)))") }
            if cancellation.isCancelled && !signalled { kill(pid, SIGTERM); signalled = true }
            usleep(20_000)
        }
        let code = status & 0x7f == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
        return (code, usage)
    }
}

/// Progress over all encodes: a bar redrawn in place on a terminal, a line per encode otherwise.
final class CompareScreen: Sendable {
    private let quiet: Bool
    private let status = StatusLine()

    init(quiet: Bool) { self.quiet = quiet }

    func handle(_ event: CompareEvent) {
        switch event {
        case let .reference(text): line(text)
        case let .started(job, done, total): bar(done, total, "encoding \(job.label)")
        case let .finished(job, done, total, error):
            if let error { line("FAIL  \(job.label): \(error)", force: true) } else if !status.isTerminal { line("done  \(job.label) (\(done)/\(total))") }
            bar(done, total, "\(done)/\(total) encodes measured")
        }
    }

    private func bar(_ done: Int, _ total: Int, _ text: String) {
        guard !quiet, total > 0 else { return }
        status.show(progressBar(done, of: total) + " \(done)/\(total) " + text)
    }

    func line(_ text: String, force: Bool = false) {
        guard !quiet || force else { return }
        status.print(text)
    }

    func finish() { status.end() }
}
