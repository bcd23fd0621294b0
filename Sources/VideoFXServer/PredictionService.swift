import AsyncHTTPClient
import Foundation
import Logging
import MediaIO
import Effects
import ErrorTaxonomy
import Jobs
import Pipeline
import Recipe
import Prometheus

/// Runs predictions: slots, ids, cancellation, state for PUT/SSE, webhooks, and cleanup.
public actor PredictionService {
    public let configuration: ServerConfiguration
    /// What `/metrics` reports.
    public let metrics: ServerMetrics
    let http: OutboundHTTP
    /// The server's own log; every line about a prediction carries its id.
    let logger = Logger(label: "vfx.predictions")
    private let downloads: AsyncSemaphore
    private var entries: [String: Entry] = [:]
    /// Terminal webhooks still being delivered (shutdown waits for them, within its grace period).
    private var deliveries: [UUID: Task<Void, Never>] = [:]
    /// Set once shutdown began: no new predictions.
    private(set) var draining = false
    /// Set once setup (probing FFmpeg and encoders) finished.
    public private(set) var setup: SetupResult?

    public struct SetupResult: Sendable {
        public let startedAt: String
        public let completedAt: String
        public let succeeded: Bool
        public let logs: String
    }

    final class Entry: @unchecked Sendable {
        // All mutable state is touched only from the PredictionService actor.
        var prediction: Prediction
        /// The input as given; `prediction.input` holds it with long values elided, for responses.
        let input: [String: JSONValue]
        let cancellation = CancellationFlag()
        var task: Task<Void, Never>?
        var waiters: [CheckedContinuation<Prediction, Never>] = []
        /// Its SSE listeners and webhook deliveries.
        let events: PredictionEvents
        /// Log lines in the order the engine wrote them.
        let logLines: AsyncStream<String>.Continuation
        let logStream: AsyncStream<String>
        var logTask: Task<Void, Never>?
        init(_ p: Prediction, input: [String: JSONValue], events: PredictionEvents = PredictionEvents()) {
            prediction = p
            self.input = input
            self.events = events
            (logStream, logLines) = AsyncStream<String>.makeStream()
        }
    }

    typealias Event = PredictionEvents.Event

    public init(configuration: ServerConfiguration, metrics: ServerMetrics = ServerMetrics()) {
        self.configuration = configuration
        self.metrics = metrics
        http = OutboundHTTP(policy: OutboundPolicy(allowPrivate: configuration.allowPrivateURLs),
                            maxRedirects: configuration.maxRedirects)
        downloads = AsyncSemaphore(configuration.maxConcurrentDownloads, waiting: metrics.downloadsWaiting)
    }

    /// Probes FFmpeg and the encoders once.
    public func runSetup() {
        let started = Prediction.timestamp()
        let list = CodecCatalog.probe()
        var lines = list.map { "\($0.name): " + ($0.opens ? "opens" : "unavailable (\($0.reason ?? ""))") }
        if configuration.jobExecutable != nil {
            lines.append("jobs: a process each, memory held to \(configuration.jobLimits.memoryBytes >> 20) MiB by \(IsolatedJob.memoryEnforcement)")
        }
        let logs = lines.joined(separator: "\n")
        setup = SetupResult(startedAt: started, completedAt: Prediction.timestamp(),
                            succeeded: list.contains { $0.opens }, logs: logs)
    }

    public var busy: Bool { running >= configuration.concurrency }
    private var running: Int { entries.values.filter { !$0.prediction.status.isTerminal }.count }

    enum CreateError: Error { case atCapacity, shuttingDown }

    /// What `create` gives a route: the entry to wait on or stream, and the prediction as it stood.
    struct Created: Sendable {
        let entry: Entry
        let snapshot: Prediction
        /// A running prediction with the same id (idempotent PUT), not a new one.
        let existing: Bool
    }

    /// Starts a prediction, or returns the running one with the same id (idempotent PUT).
    func create(_ request: PredictionRequest, input: [String: JSONValue], id: String?, traceHeaders: [(String, String)])
        throws -> Created {
        if let id, let e = entries[id], !e.prediction.status.isTerminal { return Created(entry: e, snapshot: e.prediction, existing: true) }
        // The same id again once it finished: its result, not a second run.
        if let id, let done = finished[id] { return Created(entry: Entry(done, input: [:]), snapshot: done, existing: true) }
        guard !draining else { throw CreateError.shuttingDown }
        guard running < configuration.concurrency else { throw CreateError.atCapacity }
        var p = Prediction(id: id ?? Self.newID(), input: input.mapValues(Self.elided))
        p.created_at = request.createdAt ?? Prediction.timestamp()
        p.webhook = request.webhook
        p.webhook_events_filter = request.webhookEventsFilter
        p.output_file_prefix = request.outputFilePrefix
        let sender = WebhookSender(http: http, configuration: configuration, traceHeaders: traceHeaders, metrics: metrics)
        let entry = Entry(p, input: input, events: PredictionEvents(webhook: p.webhook, filter: p.webhook_events_filter, sender: sender))
        entries[p.id] = entry
        let given = Set(request.input.keys)
        entry.task = Task { await self.run(entry, given: given) }
        consumeLogs(entry)
        return Created(entry: entry, snapshot: p, existing: false)
    }

    /// A URL short enough for a message: data: URLs by their media type alone, long ones cut.
    static func elided(_ url: String) -> String {
        if url.lowercased().hasPrefix("data:") {
            return "(" + String(url.prefix { $0 != "," && $0 != ";" }.prefix(64)) + " URL)"
        }
        return url.count > 200 ? String(url.prefix(200)) + "..." : url
    }

    /// A value as responses show it: strings over 1 KiB (a data: URL, say) cut, with their length.
    static func elided(_ value: JSONValue) -> JSONValue {
        guard case .string(let s) = value, s.utf8.count > 1024 else { return value }
        return .string(String(s.prefix(64)) + "... (\(s.utf8.count) bytes, elided)")
    }

    static func newID() -> String {
        let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789")
        return String((0..<26).map { _ in alphabet.randomElement()! })
    }

    /// Waits for a prediction to end.
    func wait(_ entry: Entry) async -> Prediction {
        if entry.prediction.status.isTerminal { return entry.prediction }
        return await withCheckedContinuation { entry.waiters.append($0) }
    }

    /// Events of one prediction, from now on.
    func events(_ entry: Entry) -> AsyncStream<Event> { entry.events.subscribe(current: entry.prediction) }

    /// Recently finished predictions (bounded): a GET or PUT of one answers it, cancelling one is a no-op.
    private lazy var finished = FinishedPredictions(maxCount: configuration.keepFinished, maxBytes: configuration.keepFinishedBytes)

    /// A prediction as it stands: running, or recently finished; nil when this server knows no such id.
    func prediction(id: String) -> Prediction? { entries[id]?.prediction ?? finished[id] }

    /// Asks a prediction to stop; true when it runs or recently finished (cancelling that changes
    /// nothing), false when there is none by that id.
    public func cancel(id: String) -> Bool {
        if finished[id] != nil && entries[id] == nil { return true }
        guard let e = entries[id], !e.prediction.status.isTerminal else { return false }
        e.cancellation.cancel()
        e.task?.cancel()
        return true
    }

    /// Cancels one prediction if it is still running (its client hung up).
    func cancel(_ entry: Entry) {
        guard !entry.prediction.status.isTerminal else { return }
        entry.cancellation.cancel()
        entry.task?.cancel()
    }

    /// Cancels everything and waits for the work to end.
    public func cancelAll() async {
        let all = entries.values.filter { !$0.prediction.status.isTerminal }
        for e in all { e.cancellation.cancel(); e.task?.cancel() }
        for e in all { await e.task?.value }
        for d in deliveries.values { d.cancel() }
    }

    /// Shutdown: refuses new predictions, gives running ones and pending webhooks `grace` seconds,
    /// then cancels what is left.
    public func drain(grace: Double) async {
        draining = true
        let deadline = ContinuousClock.now + .milliseconds(Int64(grace * 1000))
        while ContinuousClock.now < deadline, running > 0 || !deliveries.isEmpty {
            try? await Task.sleep(for: .milliseconds(50))
        }
        await cancelAll()
    }

    private func delivered(_ key: UUID) { deliveries[key] = nil }

    /// The logs of a prediction so far.
    func logs(of entry: Entry) -> String { entry.prediction.logs }

    /// Appends the engine's log lines to the prediction in the order they were written.
    func consumeLogs(_ entry: Entry) {
        entry.logTask = Task { for await line in entry.logStream { self.appendLog(entry, line) } }
    }

    // MARK: - One prediction

    private func appendLog(_ entry: Entry, _ line: String) {
        entry.prediction.logs += line + "\n"
        logger.info("\(line)", metadata: ["prediction_id": "\(entry.prediction.id)"])
        entry.events.publish(.log(line), entry.prediction)
    }

    /// Downloads what steps name by URL (LUT files) with the same policy, limits and slots as the video;
    /// the job reads only these bytes, never a path on this server.
    private func fetchResources(_ steps: [ChainStep], into work: String, fetcher: InputFetcher) async throws -> FetchedResources {
        var fetched: [String: [UInt8]] = [:], files: [String: String] = [:]
        for (i, step) in try Chain.resolve(steps).enumerated() {
            for spec in step.definition.parameters where spec.type == .url {
                guard let location = step.parameters.string(spec.name), fetched[location] == nil else { continue }
                let path = work + "/resource-\(i)"
                do {
                    _ = try await downloads.withPermit { try await fetcher.fetch(location, to: path) }
                    guard let data = FileManager.default.contents(atPath: path), data.count <= CubeLUT.maxBytes else {
                        throw RecipeError.resource(step: step.name, location: Self.elided(location), reason: "larger than \(CubeLUT.maxBytes) bytes")
                    }
                    fetched[location] = [UInt8](data)
                    files[location] = path
                } catch let error as RecipeError { throw error } catch {
                    let reason = "\(error)".replacingOccurrences(of: "the input video", with: "the file")
                        .replacingOccurrences(of: "the input data: URL", with: "the data: URL")
                    throw RecipeError.resource(step: step.name, location: Self.elided(location), reason: reason)
                }
            }
        }
        let resources = fetched
        return FetchedResources(files: files) { location in
            guard let bytes = resources[location] else {
                throw RecipeError.resource(step: "lut", location: location, reason: "was not fetched")
            }
            return bytes
        }
    }

    /// What steps' URLs gave: the bytes for an in-process job, the files for a job's child process.
    struct FetchedResources: Sendable {
        let files: [String: String]
        let read: ResourceReader
    }

    /// Downloads one video, runs the steps on it and delivers the result; `downloaded` counts bytes
    /// against the prediction's total (max_batch_input_bytes).
    private func processVideo(_ video: String, steps: [ChainStep], resources: FetchedResources, work: String, entry: Entry,
                              fetcher: InputFetcher, downloaded: inout Int) async throws -> (String, ProcessResult) {
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        let input = entry.input
        let source = work + "/input"
        let bytes = try await downloads.withPermit { try await fetcher.fetch(video, to: source) }
        self.metrics.downloadedBytes.increment(by: Int64(bytes))
        downloaded += bytes
        guard downloaded <= configuration.maxBatchInputBytes else {
            throw MediaError.limitExceeded(input: "the input videos", limit: "max_batch_input_bytes", value: "\(downloaded) bytes",
                                           maximum: "\(configuration.maxBatchInputBytes) bytes")
        }
        try Task.checkCancellation()
        let output = work + "/" + InputSchema.outputName(input)
        var request = ProcessRequest(recipe: InputSchema.recipe(input, steps: steps, video: source, output: output))
        request.resources = resources.read
        request.inputOptions = .untrustedLocalFile
        // Messages name what the client sent, never this server's temporary files.
        request.inputName = "input video " + Self.elided(video)
        request.outputName = "the output video"
        request.limits = configuration.mediaLimits
        request.limits.maxOutputBytes = configuration.maxOutputBytes
        let result = try await runJob(request, resources: resources.files, work: work, entry: entry)
        if let f = result.fallbackFrom { self.metrics.fallback(requested: f, used: result.encoder) }
        for s in result.streams {
            self.metrics.stream(kind: s.kind, decoder: s.decoder, decoderDevice: s.decoderDevice, encoder: s.encoder,
                                encoderDevice: s.encoderDevice)
        }
        self.metrics.fps.record(result.framesPerSecond)
        let delivered = try await OutputDelivery(http: http, configuration: configuration, metrics: self.metrics)
            .deliver(file: output, mimeType: try request.recipe.outputContainer().mimeType, prefix: entry.prediction.output_file_prefix)
        try Task.checkCancellation()
        return (delivered, result)
    }

    /// A finished job's metrics as the response shows them.
    static func resultMetrics(_ result: ProcessResult) -> [String: JSONValue] {
        var m: [String: JSONValue] = ["frames": .int(result.framesWritten), "fps": .double((result.framesPerSecond * 100).rounded() / 100),
                                      "encoder": .string(result.encoder)]
        if let f = result.fallbackFrom { m["requested_encoder"] = .string(f) }
        // Which decoder and encoder handled each stream, and where: a silent fallback to the CPU shows here.
        m["streams"] = .array(result.streams.map { s in
            .object(["kind": .string(s.kind), "decoder": .string(s.decoder), "decoder_device": .string(s.decoderDevice),
                     "encoder": .string(s.encoder), "encoder_device": .string(s.encoderDevice)])
        })
        return m
    }

    /// A `videos` prediction's items, one after another in its slot: their outputs in input order (null
    /// for an item that failed with continue_on_error) and each item's metrics or error.
    private func runItems(_ videos: [JSONValue], steps: [ChainStep], resources: FetchedResources, work: String, entry: Entry,
                          fetcher: InputFetcher) async throws -> (outputs: [JSONValue], items: [JSONValue]) {
        let continueOnError = entry.input["continue_on_error"] == .bool(true)
        var outputs: [JSONValue] = [], items: [JSONValue] = [], downloaded = 0
        for (i, value) in videos.enumerated() {
            let url = value.string ?? ""
            let label = "item \(i + 1)/\(videos.count) (\(Self.elided(url)))"
            entry.logLines.yield("\(label): started")
            do {
                let (delivered, result) = try await processVideo(url, steps: steps, resources: resources, work: work + "/item-\(i)",
                                                                 entry: entry, fetcher: fetcher, downloaded: &downloaded)
                outputs.append(.string(delivered))
                items.append(.object(Self.resultMetrics(result)))
                entry.logLines.yield("\(label): succeeded, \(result.framesWritten) frames")
            } catch {
                if entry.cancellation.isCancelled || error is CancellationError || (error as? MediaError) == .cancelled { throw error }
                guard continueOnError else { throw ItemFailure(label: label, underlying: error) }
                entry.logLines.yield("\(label): failed: \(error)")
                outputs.append(.null)
                items.append(.object(["error": .string("\(error)"), "error_category": .string(ErrorCategory.of(error).rawValue)]))
            }
            try? FileManager.default.removeItem(atPath: work + "/item-\(i)")
        }
        return (outputs, items)
    }

    private func run(_ entry: Entry, given: Set<String>) async {
        let started = Date()
        entry.prediction.status = .processing
        metrics.running.increment()
        logger.info("prediction started", metadata: ["prediction_id": "\(entry.prediction.id)"])
        entry.prediction.started_at = Prediction.timestamp(started)
        entry.events.publish(.start(entry.prediction), entry.prediction)

        let work = URL(fileURLWithPath: configuration.temporaryDirectory)
            .appendingPathComponent("vfx-\(UUID().uuidString)").path  // never the client's id
        // fetchResources writes beside the items' folders.
        defer { try? FileManager.default.removeItem(atPath: work) }
        var metrics: [String: JSONValue] = [:]
        do {
            try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
            let input = entry.input
            let fetcher = InputFetcher(http: http, configuration: configuration)
            let steps = try InputSchema.steps(input, given: given)
            let resources = try await fetchResources(steps, into: work, fetcher: fetcher)
            if case .array(let videos)? = input["videos"] {
                let (outputs, items) = try await runItems(videos, steps: steps, resources: resources, work: work, entry: entry,
                                                          fetcher: fetcher)
                metrics["items"] = .array(items)
                entry.prediction.output = .array(outputs)
            } else {
                var downloaded = 0
                let (delivered, result) = try await processVideo(input["video"]?.string ?? "", steps: steps, resources: resources,
                                                                 work: work + "/item", entry: entry, fetcher: fetcher,
                                                                 downloaded: &downloaded)
                metrics.merge(Self.resultMetrics(result)) { _, new in new }
                entry.prediction.output = .string(delivered)
            }
            entry.prediction.status = .succeeded
            entry.events.publish(.output(entry.prediction), entry.prediction)
        } catch {
            if entry.cancellation.isCancelled || error is CancellationError || (error as? MediaError) == .cancelled {
                entry.prediction.status = .canceled
            } else {
                entry.prediction.status = .failed
                entry.prediction.error = "\(error)"
                entry.logLines.yield("error: \(error)")
            }
        }
        metrics["predict_time"] = .double(Date().timeIntervalSince(started))
        self.metrics.duration.record(.milliseconds(Int64(Date().timeIntervalSince(started) * 1000)))
        self.metrics.predictions(entry.prediction.status.rawValue).increment()
        logger.info("prediction \(entry.prediction.status.rawValue)", metadata: [
            "prediction_id": "\(entry.prediction.id)", "predict_time": "\(Date().timeIntervalSince(started))",
        ])
        self.metrics.running.decrement()
        entry.prediction.metrics = metrics
        entry.prediction.completed_at = Prediction.timestamp()
        entry.logLines.finish()
        await entry.logTask?.value
        // The terminal webhook is retried in the background: it holds no response, slot or folder.
        if let delivery = entry.events.publish(.completed(entry.prediction), entry.prediction) {
            let key = UUID()
            deliveries[key] = delivery
            Task { await delivery.value; self.delivered(key) }
        }
        for w in entry.waiters { w.resume(returning: entry.prediction) }
        entry.waiters.removeAll()
        // Finished predictions are not kept: a long-running server would otherwise hold every output.
        if entries[entry.prediction.id] === entry { entries[entry.prediction.id] = nil }
        finished.insert(entry.prediction)
    }

    /// Runs the blocking engine off the server's threads: in a child process of its own when the
    /// configuration names the binary (a crash or a limit then ends this job alone), else on a thread.
    private func runJob(_ request: ProcessRequest, resources: [String: String], work: String, entry: Entry) async throws -> ProcessResult {
        let flag = entry.cancellation
        // One ordered stream per prediction: a task per line would let lines overtake each other.
        let lines = entry.logLines
        let log: @Sendable (String) -> Void = { line in lines.yield(line) }
        let throttle = ProgressThrottle()
        let progress: @Sendable (JobProgress) -> Void = { p in if throttle.due(final: p.framesDone == p.totalFrames) { log(p.line) } }
        // What a crashed job wrote on standard error goes to the operator's log, not to the client.
        let logger = self.logger, id = entry.prediction.id
        let crashLog: @Sendable (String) -> Void = { stderr in
            guard !stderr.isEmpty else { return }
            logger.error("job process output before it ended: \(stderr.suffix(4096))", metadata: ["prediction_id": "\(id)"])
        }
        let isolated = configuration.jobExecutable.map { exe in
            IsolatedJob(executable: exe, environment: configuration.jobEnvironment.merging(["TMPDIR": work]) { _, own in own })
        }
        let spec = JobSpec(request, resources: resources, processLimits: configuration.jobLimits)
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ProcessResult, Error>) in
                    WorkerThread.detach {
                        do {
                            if let isolated {
                                continuation.resume(returning: try isolated.run(spec, cancellation: flag, onProgress: progress, onLog: log,
                                                                                onCrash: crashLog))
                            } else {
                                let runner = Runner(request: request, cancellation: flag, onProgress: progress, onLog: log)
                                continuation.resume(returning: try runner.run())
                            }
                        } catch { continuation.resume(throwing: error) }
                    }
                }
            } onCancel: { flag.cancel() }
        } catch let crash as JobCrash {
            metrics.jobCrashed(crash.reason)
            logger.error("job process ended: \(crash)", metadata: ["prediction_id": "\(entry.prediction.id)"])
            throw crash
        }
    }
}

/// Lets one progress line through every half second (and the last one).
final class ProgressThrottle: @unchecked Sendable {
    // Only used from the single engine thread that reports progress.
    private var last = Date.distantPast
    func due(final: Bool) -> Bool {
        let now = Date()
        guard final || now.timeIntervalSince(last) >= 0.5 else { return false }
        last = now
        return true
    }
}

/// At most `permits` holders at once; the rest wait their turn in order.
actor AsyncSemaphore {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []
    /// Reports how many wait (the download queue's depth).
    private let depth: Gauge?

    init(_ permits: Int, waiting depth: Gauge? = nil) {
        free = max(1, permits)
        self.depth = depth
    }

    func withPermit<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if free > 0 { free -= 1 } else {
            depth?.increment()
            await withCheckedContinuation { waiting.append($0) }
            depth?.decrement()
        }
        defer { release() }
        return try await body()
    }

    private func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}
