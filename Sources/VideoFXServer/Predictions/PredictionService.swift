import Foundation
import Logging
import MediaIO
import ErrorTaxonomy
import Jobs
import Queue

/// The predictions of this server: ties the parts together. The store keeps every prediction's
/// state (what GET, PUT and cancel answer from), the runner owns the slots and the engine, and each
/// prediction's events go to its SSE listeners and webhook through ``PredictionEvents``. This actor
/// holds only what lives while a prediction runs here: its task, cancellation, waiters and log stream.
public actor PredictionService {
    public let configuration: ServerConfiguration
    /// What `/metrics` reports.
    public let metrics: ServerMetrics
    public let store: any PredictionStore
    let runner: PredictionRunner
    /// Uploads to `/files` (a prediction may name one as its video).
    let files: any FileStorage
    /// Set when the predictions live in PostgreSQL (`--database`): any node takes them, any worker runs them.
    public let cluster: ClusterNode?
    /// This node's worker in a cluster (none with `--concurrency 0`).
    let worker: QueueWorker?
    nonisolated var http: OutboundHTTP { runner.http }
    /// The server's own log; every line about a prediction carries its id.
    let logger = Logger(label: "vfx.predictions")
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

    /// A prediction running here.
    final class Entry: @unchecked Sendable {
        // All mutable state is touched only from the PredictionService actor.
        var prediction: Prediction
        let work: PredictionWork
        var task: Task<Void, Never>?
        var waiters: [CheckedContinuation<Prediction, Never>] = []
        /// Its SSE listeners and webhook deliveries.
        let events: PredictionEvents
        let logStream: AsyncStream<String>
        var logTask: Task<Void, Never>?
        var cancellation: CancellationFlag { work.cancellation }

        init(_ p: Prediction, input: [String: JSONValue], given: Set<String> = [], events: PredictionEvents = PredictionEvents()) throws {
            prediction = p
            self.events = events
            let (stream, lines) = AsyncStream<String>.makeStream()
            logStream = stream
            work = PredictionWork(id: p.id, job: try PredictionJob(input: input, given: given, outputPrefix: p.output_file_prefix),
                                  cancellation: CancellationFlag(), log: lines)
        }
    }

    typealias Event = PredictionEvents.Event

    /// `store` defaults to this process's memory, within the configuration's budget for finished ones.
    /// With `cluster`, the store is its database and this node's worker runs `configuration.concurrency` tasks at once.
    public init(configuration: ServerConfiguration, metrics: ServerMetrics = ServerMetrics(), store: (any PredictionStore)? = nil,
                cluster: ClusterNode? = nil) {
        self.configuration = configuration
        self.metrics = metrics
        self.cluster = cluster
        self.store = cluster?.store ?? store ?? MemoryPredictionStore(keepFinished: configuration.keepFinished,
                                                                      keepFinishedBytes: configuration.keepFinishedBytes)
        let folder = URL(fileURLWithPath: configuration.temporaryDirectory).appendingPathComponent("vfx-files-\(UUID().uuidString)").path
        if let cluster {
            files = PostgresFileStore(queue: cluster.queue, folder: folder, configuration: configuration)
        } else {
            files = FileStore(folder: folder, ttl: configuration.fileTTL, maxFileBytes: configuration.maxInputBytes,
                              maxTotalBytes: configuration.maxFilesBytes)
        }
        let runner = PredictionRunner(configuration: configuration, metrics: metrics, files: files)
        self.runner = runner
        if let cluster, configuration.concurrency > 0 {
            worker = QueueWorker(queue: cluster.queue, listener: cluster.listener, runner: runner, configuration: configuration,
                                 slots: configuration.concurrency)
        } else {
            worker = nil
        }
    }

    /// A cluster node's background work: the database (migrations, listener, readiness) and, once it
    /// is ready, this node's worker. Returns when cancelled.
    public func runCluster(onRefused: @escaping @Sendable (QueueError) async -> Void = { _ in }) async {
        guard let cluster else { return }
        let worker = self.worker
        let outbox = WebhookOutbox(queue: cluster.queue, sender: WebhookSender(http: http, configuration: configuration, traceHeaders: [],
                                                                               metrics: metrics),
                                   node: "\(ProcessInfo.processInfo.hostName):\(getpid())")
        await cluster.run(onReady: {
            await withDiscardingTaskGroup { group in
                group.addTask { await outbox.run() }
                group.addTask { await worker?.run() }
            }
        }, onRefused: onRefused)
    }

    /// Why this node cannot take predictions now (its database is away), if so.
    public var notReadyReason: String? {
        guard let cluster, !cluster.ready.isReady else { return nil }
        return cluster.ready.reason ?? "the database is not ready"
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

    /// Every slot taken (a cluster queues instead: never busy).
    public var busy: Bool { cluster == nil && runner.busy }

    enum CreateError: Error { case atCapacity, shuttingDown }

    /// What `create` gives a route: the entry to wait on or stream, and the prediction as it stood.
    struct Created: Sendable {
        let entry: Entry
        let snapshot: Prediction
        /// A prediction with the same id already existed (idempotent PUT), running or finished; not a new one.
        let existing: Bool
    }

    /// Starts a prediction, or returns the one with the same id (idempotent PUT): still running, or
    /// finished (its result, not a second run).
    func create(_ request: PredictionRequest, input: [String: JSONValue], id: String?, traceHeaders: [(String, String)])
        async throws -> Created {
        if let cluster {
            guard !draining else { throw CreateError.shuttingDown }
            return try await clusterCreate(cluster, request, input: input, id: id)
        }
        if let id, let e = entries[id] { return Created(entry: e, snapshot: e.prediction, existing: true) }
        if let id, let stored = try await store.prediction(id: id) { return try existingCreated(stored) }
        guard !draining else { throw CreateError.shuttingDown }
        guard runner.reserveSlot() else { throw CreateError.atCapacity }
        var p = Prediction(id: id ?? Self.newID(), input: input.mapValues(Self.elided))
        p.created_at = request.createdAt ?? Prediction.timestamp()
        p.webhook = request.webhook
        p.webhook_events_filter = request.webhookEventsFilter
        p.output_file_prefix = request.outputFilePrefix
        let sender = WebhookSender(http: http, configuration: configuration, traceHeaders: traceHeaders, metrics: metrics)
        let entry: Entry, stored: Prediction?
        do {
            entry = try Entry(p, input: input, given: Set(request.input.keys),
                              events: PredictionEvents(webhook: p.webhook, filter: p.webhook_events_filter, sender: sender))
            stored = try await store.insert(p)
        } catch { runner.releaseSlot(); throw error }
        // Another request may have stored the same id while this one waited on the store.
        if let stored { runner.releaseSlot(); return try existingCreated(stored) }
        entries[p.id] = entry
        entry.task = Task { await self.run(entry) }
        consumeLogs(entry)
        return Created(entry: entry, snapshot: p, existing: false)
    }

    /// A stored prediction this node does not run (finished, or running elsewhere), as `create` answers it.
    private func existingCreated(_ p: Prediction) throws -> Created {
        Created(entry: try Entry(p, input: [:]), snapshot: p, existing: true)
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
        if let cluster { return await clusterWait(cluster, id: entry.prediction.id) ?? entry.prediction }
        return await withCheckedContinuation { entry.waiters.append($0) }
    }

    /// Events of one prediction, from now on.
    func events(_ entry: Entry) -> AsyncStream<Event> {
        if let cluster { return clusterEvents(cluster, id: entry.prediction.id, current: entry.prediction) }
        return entry.events.subscribe(current: entry.prediction)
    }

    /// A prediction as it stands, running or finished; nil when no such id is kept.
    func prediction(id: String) async throws -> Prediction? {
        if let e = entries[id] { return e.prediction }
        return try await store.prediction(id: id)
    }

    /// Asks a prediction to stop; true when it runs or finished (cancelling that changes nothing),
    /// false when there is none by that id.
    public func cancel(id: String) async -> Bool {
        if let cluster { return ((try? await cluster.queue.requestCancel(id: id)) ?? .unknown) != .unknown }
        if let e = entries[id] { cancel(e); return true }
        return (try? await store.prediction(id: id)) != nil
    }

    /// Cancels one prediction if it is still running (its client hung up).
    func cancel(_ entry: Entry) {
        guard !entry.prediction.status.isTerminal else { return }
        if let cluster {
            let id = entry.prediction.id
            Task { _ = try? await cluster.queue.requestCancel(id: id) }
            return
        }
        entry.cancellation.cancel()
        entry.task?.cancel()
    }

    /// Cancels everything and waits for the work to end.
    public func cancelAll() async {
        await worker?.stop(grace: 0)
        let all = Array(entries.values)
        for e in all { cancel(e) }
        for e in all { await e.task?.value }
        for d in deliveries.values { d.cancel() }
    }

    /// Shutdown: refuses new predictions, gives running ones and pending webhooks `grace` seconds,
    /// then cancels what is left.
    public func drain(grace: Double) async {
        draining = true
        // A cluster worker finishes what it runs within the grace period and hands the rest back.
        await worker?.stop(grace: grace)
        let deadline = ContinuousClock.now + .milliseconds(Int64(grace * 1000))
        while ContinuousClock.now < deadline, !entries.isEmpty || !deliveries.isEmpty {
            try? await Task.sleep(for: .milliseconds(50))
        }
        await cancelAll()
        await files.removeAll()
    }

    private func delivered(_ key: UUID) { deliveries[key] = nil }

    // MARK: - One prediction

    /// Appends the engine's log lines to the prediction in the order they were written.
    func consumeLogs(_ entry: Entry) {
        entry.logTask = Task { for await line in entry.logStream { await self.appendLog(entry, line) } }
    }

    /// The logs of a prediction so far.
    func logs(of entry: Entry) -> String { entry.prediction.logs }

    /// Appends one of the engine's log lines, in the order they were written.
    private func appendLog(_ entry: Entry, _ line: String) async {
        entry.prediction.logs += line + "\n"
        logger.info("\(line)", metadata: ["prediction_id": "\(entry.prediction.id)"])
        entry.events.publish(.log(line), entry.prediction)
        await save(entry)
    }

    /// Writes a running prediction's state to the store; a store that fails is logged, and the
    /// prediction goes on (its terminal state is saved again at the end).
    private func save(_ entry: Entry) async {
        do { try await store.update(entry.prediction) } catch {
            logger.error("saving the prediction failed: \(error)", metadata: ["prediction_id": "\(entry.prediction.id)"])
        }
    }

    private func run(_ entry: Entry) async {
        let started = Date()
        entry.prediction.status = .processing
        metrics.running.increment()
        logger.info("prediction started", metadata: ["prediction_id": "\(entry.prediction.id)"])
        entry.prediction.started_at = Prediction.timestamp(started)
        await save(entry)
        entry.events.publish(.start(entry.prediction), entry.prediction)
        var metrics: [String: JSONValue] = [:]
        do {
            let (output, produced) = try await runner.run(entry.work)
            metrics = produced
            entry.prediction.output = output
            entry.prediction.status = .succeeded
            entry.events.publish(.output(entry.prediction), entry.prediction)
        } catch {
            if entry.cancellation.isCancelled || error is CancellationError || (error as? MediaError) == .cancelled {
                entry.prediction.status = .canceled
            } else {
                entry.prediction.status = .failed
                entry.prediction.error = "\(error)"
                entry.work.log.yield("error: \(error)")
            }
        }
        await finish(entry, started: started, metrics: metrics)
    }

    /// Records the end: metrics, the terminal state in the store, the completed event, the waiters.
    private func finish(_ entry: Entry, started: Date, metrics produced: [String: JSONValue]) async {
        var metrics = produced
        let seconds = Date().timeIntervalSince(started)
        metrics["predict_time"] = .double(seconds)
        self.metrics.duration.record(.milliseconds(Int64(seconds * 1000)))
        self.metrics.predictions(entry.prediction.status.rawValue).increment()
        logger.info("prediction \(entry.prediction.status.rawValue)", metadata: [
            "prediction_id": "\(entry.prediction.id)", "predict_time": "\(seconds)",
        ])
        self.metrics.running.decrement()
        entry.prediction.metrics = metrics
        entry.prediction.completed_at = Prediction.timestamp()
        entry.work.log.finish()
        await entry.logTask?.value
        await save(entry)
        runner.releaseSlot()
        // The terminal webhook is retried in the background: it holds no response, slot or folder.
        if let delivery = entry.events.publish(.completed(entry.prediction), entry.prediction) {
            let key = UUID()
            deliveries[key] = delivery
            Task { await delivery.value; self.delivered(key) }
        }
        for w in entry.waiters { w.resume(returning: entry.prediction) }
        entry.waiters.removeAll()
        if entries[entry.prediction.id] === entry { entries[entry.prediction.id] = nil }
    }
}
