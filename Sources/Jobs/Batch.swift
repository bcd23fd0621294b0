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

/// How a batch runs.
public struct BatchOptions: Sendable {
    /// Concurrent jobs (see ``WorkerPool/defaultWorkers(cores:)``).
    public var jobs: Int
    /// Codec threads per job (0: FFmpeg's choice).
    public var threadsPerJob: Int
    /// Tries after the first for items that fail with a transient error.
    public var retries = 2
    /// The first retry waits this long; each next one twice as long (at most 30 s).
    public var backoff = 1.0
    /// Stop starting items after this many failures (nil: never).
    public var maxFailures: Int?
    /// Redo items whose output is already there.
    public var force = false

    public init(jobs: Int, threadsPerJob: Int) { self.jobs = jobs; self.threadsPerJob = threadsPerJob }

    /// The retry rule these options give.
    public var retryPolicy: RetryPolicy { RetryPolicy(retries: retries, backoff: backoff) }

    public static var `default`: BatchOptions {
        let (jobs, threads) = WorkerPool.defaultWorkers(cores: ProcessInfo.processInfo.activeProcessorCount)
        return BatchOptions(jobs: jobs, threadsPerJob: threads)
    }
}

/// When a failed item is tried again: only for a transient reason (the error taxonomy's retryable
/// categories), at most `retries` times, after a wait that doubles each time (at most 30 s). The
/// batch and the server's `videos` items follow this one rule.
public struct RetryPolicy: Sendable {
    public var retries: Int
    /// Seconds before the first retry.
    public var backoff: Double

    public init(retries: Int = 2, backoff: Double = 1) { self.retries = retries; self.backoff = backoff }

    /// Seconds to wait before trying again after `attempt` (1 for the first) failed with `error`; nil: do not retry.
    public func delay(after error: any Error, attempt: Int) -> Double? {
        let category = ErrorCategory.of(error)
        guard category != .cancelled, category.isRetryable, attempt <= retries else { return nil }
        return min(30, backoff * Double(1 << min(attempt - 1, 30)))
    }
}

/// Where a running batch stands.
public struct BatchProgress: Sendable, Equatable, Codable {
    public var total: Int
    public var succeeded = 0
    public var failed = 0
    public var skipped = 0
    public var running = 0
    /// Frames done, over every item (running ones included).
    public var frames = 0
    public var elapsed = 0.0
    public var done: Int { succeeded + failed + skipped }

    public init(total: Int) { self.total = total }
    public var left: Int { total - done }

    /// Seconds left at the pace so far, once an item has finished.
    public var eta: Double? {
        let finished = succeeded + failed
        guard finished > 0, elapsed > 0 else { return nil }
        return elapsed / Double(finished) * Double(left)
    }

    /// "items 12/40: 11 ok, 1 failed, 0 skipped, 28 left; 2301 frames; ETA 41s".
    public var line: String {
        var s = "items \(done)/\(total): \(succeeded) ok, \(failed) failed, \(skipped) skipped, \(left) left; \(frames) frames"
        if let eta { s += "; ETA \(eta.fixed(0))s" }
        return s
    }
}

/// What a batch tells its caller while it runs (from worker threads; the caller serialises output).
public enum BatchEvent: Sendable, Codable {
    case started(index: Int, BatchItem)
    case finished(index: Int, ItemReport)
    case log(index: Int, String)
    case progress(BatchProgress)
}

/// Runs batch items through a ``WorkerPool``: resume (skip finished outputs), retries of transient
/// failures with backoff, a failure limit, cancellation, and a report in input order.
public final class Batch: Sendable {
    public let items: [BatchItem]
    public let options: BatchOptions
    /// Runtime settings every item's request starts from (limits, input options, LUT reader).
    public let template: @Sendable (Recipe) -> ProcessRequest
    public let cancellation: CancellationFlag
    private let onEvent: @Sendable (BatchEvent) -> Void

    public init(items: [BatchItem], options: BatchOptions, cancellation: CancellationFlag = CancellationFlag(),
                template: @escaping @Sendable (Recipe) -> ProcessRequest = { ProcessRequest(recipe: $0) },
                onEvent: @escaping @Sendable (BatchEvent) -> Void = { _ in }) {
        self.items = items; self.options = options; self.cancellation = cancellation
        self.template = template; self.onEvent = onEvent
    }

    private struct State {
        var reports: [ItemReport]
        var progress: BatchProgress
        var itemFrames: [Int]
    }

    /// The batch's shared state, behind a lock, shared by the worker threads.
    private final class Tracker: Sendable {
        let state: Mutex<State>
        init(_ s: State) { state = Mutex(s) }
    }

    /// Runs every item (blocking) and returns the report; never throws (failures are in the report).
    public func run() -> BatchReport {
        let started = Date()
        let tracker = Tracker(State(
            reports: items.map { ItemReport(input: $0.recipe.input, output: $0.recipe.output, status: .notStarted, error: nil,
                                            frames: 0, seconds: 0, encoder: nil, attempts: 0) },
            progress: BatchProgress(total: items.count), itemFrames: Array(repeating: 0, count: items.count)))
        TemporaryFiles.removeLeftovers(of: items.map(\.recipe.output))
        let options = self.options, cancellation = self.cancellation
        let pool = WorkerPool(workers: options.jobs)
        pool.run(count: items.count, shouldStart: {
            guard !cancellation.isCancelled else { return false }
            let failed = tracker.state.withLock { $0.progress.failed }
            return options.maxFailures.map { failed < $0 } ?? true
        }, body: { [self] index in
            let item = items[index]
            onEvent(.started(index: index, item))
            tracker.state.withLock { $0.progress.running += 1 }
            let report = runItem(index, item, started: started, tracker: tracker)
            let progress = tracker.state.withLock { s -> BatchProgress in
                s.reports[index] = report
                s.progress.running -= 1
                switch report.status {
                case .succeeded: s.progress.succeeded += 1
                case .failed: s.progress.failed += 1
                case .skipped: s.progress.skipped += 1
                case .notStarted: break
                }
                s.progress.elapsed = Date().timeIntervalSince(started)
                return s.progress
            }
            onEvent(.finished(index: index, report))
            onEvent(.progress(progress))
        })
        return BatchReport(items: tracker.state.withLock { $0.reports })
    }

    private func runItem(_ index: Int, _ item: BatchItem, started: Date, tracker: Tracker) -> ItemReport {
        var report = ItemReport(input: item.recipe.input, output: item.recipe.output, status: .failed, error: nil, frames: 0,
                                seconds: 0, encoder: nil, attempts: 0)
        if !options.force, let frames = Self.finishedOutput(item.recipe.output) {
            report.status = .skipped
            report.frames = frames
            return report
        }
        let itemStart = Date()
        var request = template(item.recipe)
        if options.threadsPerJob > 0 && request.threads == 0 { request.threads = options.threadsPerJob }
        while true {
            report.attempts += 1
            do {
                let runner = Runner(request: request, cancellation: cancellation, onProgress: { [onEvent] p in
                    let progress = tracker.state.withLock { s -> BatchProgress? in
                        s.progress.frames += p.framesDone - s.itemFrames[index]
                        s.itemFrames[index] = p.framesDone
                        s.progress.elapsed = Date().timeIntervalSince(started)
                        return p.framesDone % 25 == 0 ? s.progress : nil
                    }
                    if let progress { onEvent(.progress(progress)) }
                }, onLog: { [onEvent] line in onEvent(.log(index: index, line)) })
                let result = try runner.run()
                report.status = .succeeded
                report.error = nil
                report.frames = result.framesWritten
                report.encoder = result.encoder
                break
            } catch {
                let category = ErrorCategory.of(error)
                report.error = ItemReport.Failure(category: category, message: "\(error)")
                if category == .cancelled || cancellation.isCancelled {
                    report.status = .notStarted
                    report.error = ItemReport.Failure(category: .cancelled, message: "cancelled; no output written")
                    break
                }
                guard let wait = options.retryPolicy.delay(after: error, attempt: report.attempts) else { report.status = .failed; break }
                onEvent(.log(index: index, "\(item.recipe.input): \(error); trying again in \(wait.fixed(1))s (attempt \(report.attempts + 1))"))
                var slept = 0.0
                while slept < wait, !cancellation.isCancelled { usleep(100_000); slept += 0.1 }
            }
        }
        report.seconds = (Date().timeIntervalSince(itemStart) * 1000).rounded() / 1000
        return report
    }

    /// The frame count of an output that a finished run wrote (it was renamed into place only after
    /// its trailer and its timing check), or nil when there is none or it does not read as a video.
    public static func finishedOutput(_ path: String) -> Int? {
        guard FileManager.default.fileExists(atPath: path), let info = try? MediaInfo.probe(path),
              let video = info.videoStream, (info.duration ?? 0) > 0 else { return nil }
        return info.streams.first { $0.index == video }?.frameCount ?? 0
    }
}
