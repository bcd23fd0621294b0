import Foundation
import Jobs
import Logging
import MediaIO
import Pipeline
import Queue
import Synchronization

/// Takes tasks from the queue and runs them, `slots` at a time: claims with a lease, renews it every
/// heartbeat, writes the prediction's logs and result only while the lease holds, stops a job whose
/// prediction was cancelled (notification, or the heartbeat's answer) or whose lease was lost (and
/// then writes nothing), retries transient failures within the attempts, and on shutdown finishes what
/// runs within the grace period and hands the rest back uncounted.
final class QueueWorker: Sendable {
    let id: String
    let slots: Int
    let queue: TaskQueue
    private let listener: QueueListener
    let runner: PredictionRunner
    private var metrics: ServerMetrics { runner.metrics }
    let configuration: ServerConfiguration
    let logger = Logger(label: "vfx.worker")
    private let retry: RetryPolicy
    private let state = Mutex(State())

    private struct State {
        var running: [Int64: Running] = [:]
        var stopping = false
    }

    private struct Running {
        let lease: TaskLease
        let cancellation: CancellationFlag
        /// Set when the lease was found gone: the job stops and writes nothing more.
        let lost: CancellationFlag
        var task: Task<Void, Never>?
    }

    init(queue: TaskQueue, listener: QueueListener, runner: PredictionRunner, configuration: ServerConfiguration, slots: Int) {
        self.queue = queue; self.listener = listener; self.runner = runner; self.configuration = configuration
        self.slots = slots
        retry = RetryPolicy(retries: max(0, queue.settings.maxAttempts - 1), backoff: 1)
        id = "\(ProcessInfo.processInfo.hostName):\(getpid()):\(UUID().uuidString.prefix(8).lowercased())"
    }

    var runningCount: Int { state.withLock { $0.running.count } }

    /// Claims and runs tasks until ``stop(grace:)``; also renews leases, rescues expired ones and
    /// records this worker's heartbeat.
    func run() async {
        let notices = listener.subscribe()
        let wake = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        let forward = Task {
            for await notice in notices {
                switch notice {
                case .task, .resync: wake.continuation.yield()
                case .cancel(let predictionID): cancelLocal(predictionID)
                case .prediction: break
                }
            }
        }
        let beats = Task { await heartbeats() }
        defer { forward.cancel(); beats.cancel() }
        var iterator = wake.stream.makeAsyncIterator()
        while !state.withLock({ $0.stopping }), !Task.isCancelled {
            if state.withLock({ $0.running.count }) < slots {
                do {
                    if let lease = try await queue.claim(worker: id) {
                        metrics.queueWait.record(.milliseconds(Int64(lease.waited * 1000)))
                        start(lease)
                        continue
                    }
                } catch {
                    logger.warning("claiming failed: \(error)")
                }
            }
            // A notice wakes this sooner; the poll is the backstop for lost ones.
            let timeout = Task {
                // Only a sleep that ran its course wakes the loop (a cancelled one must not, or it spins).
                if (try? await Task.sleep(for: .seconds(1))) != nil { wake.continuation.yield() }
            }
            _ = await iterator.next()
            timeout.cancel()
        }
    }

    private func start(_ lease: TaskLease) {
        let running = Running(lease: lease, cancellation: CancellationFlag(), lost: CancellationFlag())
        state.withLock { $0.running[lease.task] = running }
        let task = Task {
            switch lease.kind {
            case .item: await executeItem(lease, index: lease.item ?? 0, cancellation: running.cancellation, lost: running.lost)
            case .chunk: await executeChunk(lease, cancellation: running.cancellation, lost: running.lost)
            case .job, .stitch: await execute(lease, cancellation: running.cancellation, lost: running.lost)
            }
            _ = state.withLock { $0.running.removeValue(forKey: lease.task) }
        }
        state.withLock { $0.running[lease.task]?.task = task }
    }

    private func cancelLocal(_ predictionID: String) {
        for r in state.withLock({ Array($0.running.values) }) where r.lease.predictionID == predictionID { r.cancellation.cancel() }
    }

    /// Renews every held lease, records this worker, rescues expired leases cluster-wide.
    private func heartbeats() async {
        var lastPrune = ContinuousClock.now - .seconds(3600)
        var lastBeat = ContinuousClock.now
        while !Task.isCancelled {
            metrics.heartbeatAge.set((ContinuousClock.now - lastBeat) / .seconds(1))
            // Leases first: they are what a slow beat would cost.
            for r in state.withLock({ Array($0.running.values) }) {
                switch try? await queue.heartbeat(r.lease) {
                case .lost?:
                    logger.warning("lease of prediction \(r.lease.predictionID) lost; stopping its job, writing nothing")
                    r.lost.cancel()
                    r.cancellation.cancel()
                case .held(let cancelRequested)?: if cancelRequested { r.cancellation.cancel() }
                case nil: break  // the database is away: the lease may still hold; try again next beat
                }
            }
            if (try? await queue.beat(worker: id, host: ProcessInfo.processInfo.hostName, pid: Int(getpid()), concurrency: slots)) != nil {
                lastBeat = .now
            }
            if (try? await queue.isReporter(worker: id)) == true {
                if let counts = try? await queue.counts() { metrics.queueTasks(counts) }
            } else {
                metrics.queueTasks(nil)
            }
            if let depth = try? await queue.outboxDepth() { metrics.outboxDepth.set(Double(depth)) }
            metrics.listenerReconnects.set(Double(listener.reconnects.withLock { $0 }))
            if let rescued = try? await queue.rescue(), !rescued.isEmpty {
                metrics.queueRescues.increment(by: Int64(rescued.count))
                for r in rescued {
                    logger.warning("rescued prediction \(r.predictionID) after \(r.attempts) attempt(s); \(r.failed ? "it failed" : "queued again")")
                    if r.failed, r.item != nil { await recomposeItems(r.predictionID) }
                }
            }
            // Finished predictions go after the retention period (any node may sweep; a minute apart here).
            if ContinuousClock.now - lastPrune > .seconds(60) {
                lastPrune = .now
                _ = try? await queue.prune(olderThanDays: queue.settings.retentionDays)
            }
            try? await Task.sleep(for: .milliseconds(Int64(queue.settings.heartbeatSeconds * 1000)))
        }
    }

    /// Stops claiming; lets running jobs finish within `grace` seconds, then stops them and hands their
    /// tasks back (not counted as attempts).
    func stop(grace: Double) async {
        state.withLock { $0.stopping = true }
        let deadline = ContinuousClock.now + .milliseconds(Int64(grace * 1000))
        while ContinuousClock.now < deadline, state.withLock({ !$0.running.isEmpty }) {
            try? await Task.sleep(for: .milliseconds(50))
        }
        let left = state.withLock { Array($0.running.values) }
        for r in left {
            r.lost.cancel()  // released, not finished: write nothing more
            r.cancellation.cancel()
        }
        for r in left {
            await r.task?.value
            try? await queue.release(r.lease)
        }
        try? await queue.remove(worker: id)
    }

    // MARK: - One task

    /// The wait before a failed task runs again, or nil when it should not: transient errors (the
    /// taxonomy's), and a job process that crashed (it may be this node's fault), within the attempts.
    func retryDelay(after error: any Error, lease: TaskLease) -> Double? {
        if let wait = retry.delay(after: error, attempt: lease.attempt) { return wait }
        guard let crash = error as? JobCrash, crash.category == .internal, lease.attempt < lease.maxAttempts else { return nil }
        return 1
    }

    /// Runs a write that must not be lost to a database that is briefly away (restarting, failing
    /// over): tried again every second for as long as a lease lasts; nil if it never got through.
    func persist(_ write: @Sendable () async throws -> Bool) async -> Bool? {
        let deadline = ContinuousClock.now + .milliseconds(Int64(queue.settings.leaseSeconds * 1000))
        while true {
            do { return try await write() } catch {
                guard ContinuousClock.now < deadline, !Task.isCancelled else {
                    logger.error("could not write a result to the database: \(error)")
                    return nil
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    private func execute(_ lease: TaskLease, cancellation: CancellationFlag, lost: CancellationFlag) async {
        guard let row = try? await queue.prediction(id: lease.predictionID),
              var prediction = try? PostgresPredictionStore.decode(row.prediction) else { return }
        guard let job = try? JSONDecoder().decode(PredictionJob.self, from: Data(row.job.utf8)) else {
            prediction.status = .failed
            prediction.error = "this prediction's stored job cannot be read by this vfx"
            _ = try? await queue.finish(lease, status: "failed", prediction: PostgresPredictionStore.encode(prediction), error: prediction.error)
            return
        }
        let started = Date()
        prediction.status = .processing
        prediction.started_at = prediction.started_at ?? Prediction.timestamp(started)
        if lease.attempt > 1 { prediction.logs += "attempt \(lease.attempt) of \(lease.maxAttempts) on \(id)\n" }
        // Webhooks leave through the outbox, written with the state they report.
        let hooks = Webhooks(url: prediction.webhook, selected: WebhookEvent.selected(by: prediction.webhook_events_filter))
        let log = PredictionLog(prediction: prediction, lease: lease, queue: queue, lost: lost, hooks: hooks)
        guard await log.save(force: true, event: lease.attempt == 1 && lease.kind == .job ? .start : nil) else { return }
        if row.cancelRequested { cancellation.cancel() }

        let (lines, continuation) = AsyncStream<String>.makeStream()
        let logging = Task { for await line in lines { await log.append(line) } }
        var work = PredictionWork(id: lease.predictionID, job: job, cancellation: cancellation, log: continuation)
        work.attempt = "\(lease.predictionID)-\(lease.kind == .stitch ? "s" : "")a\(lease.attempt)"
        work.split = splitRole(lease, job: job)
        var outcome: (Prediction.Status, JSONValue?, [String: JSONValue], (any Error)?)
        var planned: SplitPlan?
        do {
            let (output, metrics) = try await runner.run(work)
            outcome = (.succeeded, output, lease.kind == .stitch ? await stitchMetrics(metrics, id: lease.predictionID) : metrics, nil)
        } catch let split as PredictionSplit {
            planned = split.plan
            outcome = (.processing, nil, [:], nil)
        } catch {
            let cancelled = cancellation.isCancelled || error is CancellationError || (error as? MediaError) == .cancelled
            outcome = (cancelled ? .canceled : .failed, nil, [:], error)
            if !cancelled { continuation.yield("error: \(error)") }
        }
        continuation.finish()
        await logging.value
        if lost.isCancelled { return }
        prediction = await log.current
        if let planned { return await handOff(planned, lease: lease, prediction: prediction) }
        let (status, output, produced, error) = outcome
        // A transient failure with attempts left goes back to the queue; the prediction stays running.
        if status == .failed, let error, let wait = retryDelay(after: error, lease: lease) {
            prediction.logs += "attempt \(lease.attempt) failed: \(error); trying again in \(wait)s\n"
            let encoded = PostgresPredictionStore.encode(prediction)
            _ = await persist { try await self.queue.retry(lease, after: wait, error: "\(error)", prediction: encoded) }
            metrics.queueRetries.increment()
            return
        }
        var metrics = produced
        // A stitch ends what the planning task started.
        let began = prediction.started_at.flatMap(Prediction.date(from:)) ?? started
        metrics["predict_time"] = .double(Date().timeIntervalSince(lease.kind == .stitch ? began : started))
        prediction.status = status
        prediction.output = output
        prediction.metrics = metrics
        prediction.error = status == .failed ? error.map { lease.attempt > 1 ? "\($0) (attempt \(lease.attempt) of \(lease.maxAttempts))" : "\($0)" } : nil
        prediction.completed_at = Prediction.timestamp()
        let encoded = PostgresPredictionStore.encode(prediction), reason = prediction.error
        let events = (status == .succeeded ? hooks.events([.output], encoded) : []) + hooks.events([.completed], encoded)
        let finished = await persist {
            try await self.queue.finish(lease, status: status.rawValue, prediction: encoded, error: reason, events: events)
        } ?? false
        guard finished else {
            logger.warning("prediction \(lease.predictionID) ended here, but its lease had moved on: nothing written")
            return
        }
        runner.metrics.predictions(status.rawValue).increment()
        runner.metrics.duration.record(.milliseconds(Int64(Date().timeIntervalSince(started) * 1000)))
    }
}

/// A prediction's webhook as outbox rows: the URL and the events its filter selects.
struct Webhooks: Sendable {
    let url: String?
    let selected: Set<WebhookEvent>

    /// The rows for those of `events` the filter selects, each carrying `body` (the prediction's JSON).
    func events(_ events: [WebhookEvent], _ body: String) -> [OutboxEvent] {
        guard let url, !url.isEmpty else { return [] }
        return events.filter(selected.contains).map { OutboxEvent(event: $0.rawValue, url: url, body: body, terminal: $0 == .completed) }
    }
}

/// A running prediction's state as its worker holds it: log lines appended in order and saved
/// (through the lease) at most every half second, and always on demand.
actor PredictionLog {
    private(set) var current: Prediction
    private let lease: TaskLease
    private let queue: TaskQueue
    private let lost: CancellationFlag
    private let hooks: Webhooks
    private var lastSave = ContinuousClock.now - .seconds(10)

    init(prediction: Prediction, lease: TaskLease, queue: TaskQueue, lost: CancellationFlag, hooks: Webhooks) {
        current = prediction; self.lease = lease; self.queue = queue; self.lost = lost; self.hooks = hooks
    }

    /// Appends a line; a save that is due carries a `logs` webhook (so they go at most every half second).
    func append(_ line: String) async {
        current.logs += line + "\n"
        _ = await save(force: false, event: .logs)
    }

    /// Writes the state when due (or forced), with `event`'s webhook; false when the lease is gone (then
    /// it marks the job lost).
    func save(force: Bool, event: WebhookEvent? = nil) async -> Bool {
        guard force || ContinuousClock.now - lastSave >= .milliseconds(500) else { return true }
        lastSave = ContinuousClock.now
        let body = PostgresPredictionStore.encode(current)
        guard let saved = try? await queue.save(lease, status: current.status.rawValue, prediction: body,
                                                event: event.flatMap { hooks.events([$0], body).first })
        else { return true }  // the database is away: the next save or the heartbeat will tell
        if !saved { lost.cancel() }
        return saved
    }
}
