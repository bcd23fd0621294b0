#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import ErrorTaxonomy
import MediaIO
import Pipeline
import Recipe
import Synchronization

/// Whether a job is split into chunks encoded side by side (`vfx process --split`).
public enum SplitSetting: Sendable, Equatable {
    /// Chunks of ``autoChunkSeconds`` when the video is longer than ``autoAboveSeconds`` and more than one job can run.
    case auto
    case off
    /// Chunks of this many seconds.
    case seconds(Double)

    public static let autoChunkSeconds = 30.0
    public static let autoAboveSeconds = 120.0
    /// What `--split` takes, for messages and help.
    public static let valuesText = "auto, off, or the chunk length in seconds (a number greater than 0)"

    /// `auto`, `off` or a positive number of seconds; nil for anything else.
    public init?(_ text: String) {
        switch text.lowercased() {
        case "auto": self = .auto
        case "off": self = .off
        default:
            guard let s = Double(text), s.isFinite, s > 0 else { return nil }
            self = .seconds(s)
        }
    }
}

/// A test-only fault: `VFX_TEST_CHUNK_FAULT=N` makes chunk N (from 1) of a split job fail its first
/// attempt, `N:always` every attempt.
public enum ChunkFault {
    public static let variable = "VFX_TEST_CHUNK_FAULT"

    struct Injected: Error, CategorizedError, CustomStringConvertible {
        var category: ErrorCategory { .transient }
        var description: String { "a fault injected for a test (\(ChunkFault.variable))" }
    }

    /// Throws the injected fault when the switch names chunk `chunk` (0-based) on this attempt (from 1).
    public static func check(chunk: Int, attempt: Int) throws {
        guard let raw = getenv(variable) else { return }
        let parts = String(cString: raw).split(separator: ":").map(String.init)
        guard let n = parts.first.flatMap({ Int($0) }), n == chunk + 1 else { return }
        if attempt == 1 || parts.dropFirst().first == "always" { throw Injected() }
    }
}

/// A chunk that failed every attempt: names the chunk and its time range.
public struct ChunkFailure: Error, CategorizedError, CustomStringConvertible {
    public let chunk: String
    public let attempts: Int
    public let underlying: any Error
    public var category: ErrorCategory { ErrorCategory.of(underlying) }
    public var description: String { "\(chunk) failed after \(attempts) attempt\(attempts == 1 ? "" : "s"): \(underlying)" }
}

/// Runs one job split into chunks: plans cuts at keyframes, encodes the chunks `jobs` at a time on the
/// worker pool (each chunk once more if it fails), then stitches them with the audio processed once.
/// Runs the job unsplit (saying why in its log) when the setting, the chain or the input rule it out.
public struct SplitJob: Sendable {
    public var request: ProcessRequest
    public var setting: SplitSetting
    /// Chunks encoded at once.
    public var jobs: Int
    /// Codec threads per chunk (the request's own `threads` is for an unsplit run).
    public var threadsPerChunk: Int
    /// Tries per chunk.
    public var attempts = 2

    /// `jobs` and `threadsPerChunk` default as `vfx batch`'s jobs and threads per job.
    public init(request: ProcessRequest, setting: SplitSetting, jobs: Int? = nil, threadsPerChunk: Int? = nil) {
        let defaults = WorkerPool.defaultWorkers(cores: ProcessInfo.processInfo.activeProcessorCount)
        self.request = request; self.setting = setting
        self.jobs = max(1, jobs ?? defaults.jobs)
        self.threadsPerChunk = max(0, threadsPerChunk ?? defaults.threadsPerJob)
    }

    /// The chunk length this setting gives for a video of `duration` seconds, or nil: unsplit.
    func chunkSeconds(duration: Double?) -> Double? {
        switch setting {
        case .off: return nil
        case .seconds(let s): return s
        case .auto:
            guard jobs > 1, let duration, duration > SplitSetting.autoAboveSeconds else { return nil }
            return SplitSetting.autoChunkSeconds
        }
    }

    /// Runs the job (blocking); the result is that of the whole output.
    public func run(cancellation: CancellationFlag = CancellationFlag(), onProgress: @escaping @Sendable (JobProgress) -> Void = { _ in },
                    onLog: @escaping @Sendable (String) -> Void = { _ in }) throws -> ProcessResult {
        let unsplit = { Runner(request: request, cancellation: cancellation, onProgress: onProgress, onLog: onLog) }
        guard setting != .off else { return try unsplit().run() }
        let started = Date()
        let plan: SplitPlan
        do {
            let duration = setting == .auto ? try MediaInfo.probe(try InputLocation.resolve(request.input)).duration : nil
            guard let seconds = chunkSeconds(duration: duration) else { return try unsplit().run() }
            switch try SplitPlan.make(request, seconds: seconds, cancellation: cancellation) {
            case .unsplit(let reason):
                onLog("note: running unsplit: \(reason)")
                return try unsplit().run()
            case .short: return try unsplit().run()
            case .split(let p): plan = p
            }
        } catch MediaError.cancelled {
            throw MediaError.cancelled
        } catch {
            // The unsplit run reports a bad input in its own words.
            return try unsplit().run()
        }
        onLog("note: split into \(plan.chunks.count) chunks, \(jobs) at a time")
        do {
            var result = try runChunks(plan, cancellation: cancellation, onProgress: onProgress, onLog: onLog, started: started)
            result.seconds = Date().timeIntervalSince(started)
            result.framesPerSecond = result.seconds > 0 ? Double(result.framesDecoded) / result.seconds : 0
            return result
        } catch let mismatch as Stitch.Mismatch {
            onLog("warning: \(mismatch); running unsplit instead")
            return try unsplit().run()
        } catch MediaError.cancelled {
            throw MediaError.cancelled
        } catch {
            throw JobFailure(input: request.inputName ?? request.input, output: request.outputName ?? request.output, underlying: error)
        }
    }

    private func runChunks(_ plan: SplitPlan, cancellation: CancellationFlag, onProgress: @escaping @Sendable (JobProgress) -> Void,
                           onLog: @escaping @Sendable (String) -> Void, started: Date) throws -> ProcessResult {
        let count = plan.chunks.count
        let folder = URL(fileURLWithPath: request.output).deletingLastPathComponent().path
        _ = try Runner.temporaryPath(for: request.output)  // the output's folder exists and is writable
        let token = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        let paths = plan.chunks.map { folder + "/" + TemporaryFiles.name(for: request.output, token: "\(token)-chunk\($0.index + 1)") }
        for p in paths { TemporaryFiles.register(p) }
        defer { for p in paths { unlink(p); TemporaryFiles.unregister(p) } }

        struct State {
            var done: [Int]
            var results: [ProcessResult?]
            var failure: (any Error)?
        }
        let state = Mutex(State(done: Array(repeating: 0, count: count), results: Array(repeating: nil, count: count)))
        let stop = CancellationFlag(parent: cancellation)  // also set when a chunk fails for good
        // One progress or log call at a time, as from one runner; a line every chunk says (the steps, an
        // encoder's fallback) is said once.
        let serial = Mutex(Set<String>())
        let log: @Sendable (String) -> Void = { line in serial.withLock { said in if said.insert(line).inserted { onLog(line) } } }
        let total = plan.totalFrames

        WorkerPool(workers: jobs).run(count: count, shouldStart: { !stop.isCancelled }) { i in
            let chunk = plan.chunks[i]
            var request = self.request
            request.output = paths[i]
            request.outputName = "\(self.request.outputName ?? self.request.output) (\(chunk.label(of: count)))"
            request.window = chunk.window
            request.threads = self.threadsPerChunk
            var attempt = 1
            while true {
                let runner = Runner(request: request, cancellation: stop, onProgress: { p in
                    let done = state.withLock { s in s.done[i] = p.framesDone; return s.done.reduce(0, +) }
                    serial.withLock { _ in onProgress(JobProgress(framesDone: done, totalFrames: total, elapsed: Date().timeIntervalSince(started))) }
                }, onLog: log)
                do {
                    try ChunkFault.check(chunk: i, attempt: attempt)
                    let result = try runner.run()
                    state.withLock { $0.results[i] = result }
                    return
                } catch {
                    if stop.isCancelled { return }
                    if attempt < attempts, ErrorCategory.of(error) != .invalidInput {
                        log("warning: \(chunk.label(of: count)) failed (\(error)); trying it again")
                        state.withLock { $0.done[i] = 0 }
                        attempt += 1
                        continue
                    }
                    state.withLock { if $0.failure == nil { $0.failure = ChunkFailure(chunk: chunk.label(of: count), attempts: attempt, underlying: error) } }
                    stop.cancel()
                    return
                }
            }
        }
        if cancellation.isCancelled { throw MediaError.cancelled }
        let finished = state.withLock { $0 }
        if let failure = finished.failure { throw failure }
        let results = finished.results.compactMap { $0 }
        guard results.count == count, let first = results.first else { throw MediaError.cancelled }

        let parts = plan.chunks.map { Stitch.Part(path: paths[$0.index], frames: $0.frames, label: $0.label(of: count),
                                                  firstPts: $0.firstPts, timeBase: plan.timeBase) }
        let stitched = try Stitch.join(parts, request: request, cancellation: cancellation, onLog: log)
        var result = first
        result.output = request.output
        result.framesDecoded = results.reduce(0) { $0 + $1.framesDecoded }
        result.framesWritten = stitched.frames
        result.audioStreams = stitched.audio.count
        result.warnings = results.flatMap(\.warnings)
        result.streams = Array(first.streams.prefix(1)) + stitched.audio
        return result
    }
}
