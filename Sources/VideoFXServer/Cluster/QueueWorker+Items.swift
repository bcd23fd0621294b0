import Foundation
import Jobs
import MediaIO
import Queue

// The items of a fanned-out `videos` prediction: each a task of its own that any worker takes. An item
// writes its own logs and result; the prediction (its logs in item order, its status, its output list
// and the webhooks) is made from every item as it stands, in the same transaction (``TaskQueue/writeItem``).
extension QueueWorker {
    func executeItem(_ lease: TaskLease, index: Int, cancellation: CancellationFlag, lost: CancellationFlag) async {
        guard let row = try? await queue.prediction(id: lease.predictionID),
              let prediction = try? PostgresPredictionStore.decode(row.prediction),
              let job = try? JSONDecoder().decode(PredictionJob.self, from: Data(row.job.utf8)), index < job.recipes.count else {
            _ = try? await queue.writeItem(lease, state: "failed", result: Self.failure("this item's stored job cannot be read by this vfx"),
                                           logs: "", compose: { _, _, _ in nil })
            return
        }
        let composer = TaskComposer(job: job, hooks: Webhooks(url: prediction.webhook, selected: WebhookEvent.selected(by: prediction.webhook_events_filter)))
        let label = "item \(index + 1)/\(job.recipes.count) (\(PredictionService.elided(job.recipes[index].input)))"
        let log = ItemLog(lease: lease, queue: queue, lost: lost, compose: composer.compose)
        await log.append((lease.attempt > 1 ? "\(label): attempt \(lease.attempt) of \(lease.maxAttempts) on \(id)\n" : "") + "\(label): started")
        guard await log.flush() else { return }
        // A prediction that ended (cancelled, or failed by another item) runs no more of its items.
        if row.cancelRequested || ["succeeded", "failed", "canceled"].contains(row.status) { cancellation.cancel() }

        let (lines, continuation) = AsyncStream<String>.makeStream()
        let logging = Task { for await line in lines { await log.append(line) } }
        var work = PredictionWork(id: lease.predictionID, job: job.item(index), cancellation: cancellation, log: continuation)
        work.attempt = "\(lease.predictionID)-i\(index + 1)-a\(lease.attempt)"
        var state = "succeeded", result = "{}"
        do {
            let (output, metrics) = try await runner.run(work)
            continuation.yield("\(label): succeeded, \(metrics["frames"].flatMap { if case .int(let n) = $0 { n } else { nil } } ?? 0) frames")
            result = Self.json(["output": output, "metrics": .object(metrics)])
        } catch {
            guard let ending = await ending(error, lease: lease, cancellation: cancellation, prefix: label + ": ", continuation: continuation,
                                            logging: logging, log: log) else { return }
            (state, result) = ending
        }
        continuation.finish()
        await logging.value
        if lost.isCancelled { return }
        let logs = await log.text, finalState = state, finalResult = result
        let written = await persist {
            try await self.queue.writeItem(lease, state: finalState, result: finalResult, logs: logs, compose: composer.compose)
        } ?? false
        if !written { logger.warning("item \(index + 1) of prediction \(lease.predictionID) ended here, but its lease had moved on: nothing written") }
    }

    /// How an item or chunk task whose job threw ends: queued again after a transient failure with
    /// attempts left (nil: nothing more to write here), else its state and result.
    func ending(_ error: any Error, lease: TaskLease, cancellation: CancellationFlag, prefix: String,
                continuation: AsyncStream<String>.Continuation, logging: Task<Void, Never>, log: ItemLog) async -> (String, String)? {
        let cancelled = cancellation.isCancelled || error is CancellationError || (error as? MediaError) == .cancelled
        if !cancelled {
            if let wait = retryDelay(after: error, lease: lease) {
                continuation.yield("\(prefix)\(error); trying again in \(wait)s")
                continuation.finish()
                await logging.value
                let logs = await log.text
                _ = await persist { try await self.queue.requeueItem(lease, after: wait, error: "\(error)", logs: logs) }
                return nil
            }
            continuation.yield("\(prefix)failed: \(error)")
        }
        return (cancelled ? "canceled" : "failed", Self.failure("\(error)", category: ErrorCategory.of(error).rawValue))
    }

    /// Makes a fanned-out (or split) prediction again from its tasks after the rescue failed one for good
    /// (its workers died too often): with continue_on_error the other items go on, else the prediction fails.
    func recomposeItems(_ id: String) async {
        guard let row = try? await queue.prediction(id: id), let prediction = try? PostgresPredictionStore.decode(row.prediction),
              let job = try? JSONDecoder().decode(PredictionJob.self, from: Data(row.job.utf8)) else { return }
        let composer = TaskComposer(job: job, hooks: Webhooks(url: prediction.webhook, selected: WebhookEvent.selected(by: prediction.webhook_events_filter)))
        _ = await persist { try await self.queue.recompose(id, compose: composer.compose); return true }
    }

    static func json(_ object: [String: JSONValue]) -> String {
        String(decoding: (try? JSONEncoder.cog.encode(JSONValue.object(object))) ?? Data("{}".utf8), as: UTF8.self)
    }

    static func failure(_ message: String, category: String = "internal") -> String {
        json(["error": .string(message), "error_category": .string(category)])
    }
}

/// Makes a prediction from its tasks as they stand: a split one from its chunks (``composeChunks``), a
/// fanned-out one from its items: logs in item order; processing once any item started (its `start`
/// webhook then); failed as soon as an item fails without continue_on_error (naming it); once every item
/// ended, the output list in input order (null for a failed item) and each item's metrics, with the
/// `output` and `completed` webhooks.
struct TaskComposer: Sendable {
    let job: PredictionJob
    let hooks: Webhooks

    func compose(_ json: String, _ status: String, _ tasks: [ItemState]) throws -> ItemComposition? {
        if tasks.contains(where: { $0.kind == .chunk }) { return try composeChunks(json, tasks) }
        let items = tasks.filter { $0.kind == .item }
        var p = try PostgresPredictionStore.decode(json)
        p.logs = items.map(\.logs).joined()
        var events: [WebhookEvent] = []
        if p.status == .starting {
            p.status = .processing
            p.started_at = Prediction.timestamp()
            events.append(.start)
        }
        let results = items.map { $0.result.flatMap { try? JSONDecoder().decode([String: JSONValue].self, from: Data($0.utf8)) } ?? [:] }
        if !job.continueOnError, let i = items.firstIndex(where: { $0.state == "failed" }) {
            let index = items[i].item ?? i
            let label = "item \(index + 1)/\(items.count) (\(PredictionService.elided(job.recipes[index].input)))"
            p.status = .failed
            p.error = "\(label): " + (results[i]["error"]?.string ?? "failed")
            return finished(p, events: events + [.completed], stop: true)
        }
        guard items.allSatisfy({ ["succeeded", "failed", "canceled"].contains($0.state) }) else {
            // Each item writes at most every half second: a `logs` webhook goes with each write.
            events.append(.logs)
            let body = PostgresPredictionStore.encode(p)
            return ItemComposition(status: p.status.rawValue, prediction: body, events: hooks.events(events, body), stopSiblings: false)
        }
        if items.contains(where: { $0.state == "canceled" }) {
            p.status = .canceled
            return finished(p, events: events + [.completed], stop: false)
        }
        p.status = .succeeded
        p.output = .array(results.map { $0["output"] ?? .null })
        p.metrics = ["items": .array(zip(items, results).map { item, r in
            item.state == "succeeded" ? (r["metrics"] ?? .object([:])) : .object(["error": r["error"] ?? .null, "error_category": r["error_category"] ?? .null])
        })]
        return finished(p, events: events + [.output, .completed], stop: false)
    }

    func finished(_ prediction: Prediction, events: [WebhookEvent], stop: Bool) -> ItemComposition {
        var p = prediction
        p.completed_at = Prediction.timestamp()
        var metrics = p.metrics ?? [:]
        if let started = p.started_at.flatMap(Prediction.date(from:)) { metrics["predict_time"] = .double(Date().timeIntervalSince(started)) }
        p.metrics = metrics
        let body = PostgresPredictionStore.encode(p)
        return ItemComposition(status: p.status.rawValue, prediction: body, events: hooks.events(events, body), stopSiblings: stop)
    }
}

/// An item task's log as its worker holds it: lines appended in order, written (through the lease, with
/// the prediction remade from every item) at most every half second, and on demand.
actor ItemLog {
    private(set) var text = ""
    private let lease: TaskLease
    private let queue: TaskQueue
    private let lost: CancellationFlag
    private let compose: TaskQueue.Composer
    private var lastSave = ContinuousClock.now - .seconds(10)
    /// A chunk's frames encoded so far, written with the log.
    private let frames: FrameCounter?

    init(lease: TaskLease, queue: TaskQueue, lost: CancellationFlag, compose: @escaping TaskQueue.Composer, frames: FrameCounter? = nil) {
        self.lease = lease; self.queue = queue; self.lost = lost; self.compose = compose; self.frames = frames
        text = lease.logs
    }

    func append(_ line: String) async {
        text += line + "\n"
        if ContinuousClock.now - lastSave >= .milliseconds(500) { _ = await flush() }
    }

    /// Writes now; false when the lease is gone (then it marks the job lost).
    func flush() async -> Bool {
        lastSave = ContinuousClock.now
        guard let written = try? await queue.writeItem(lease, state: nil, result: nil, logs: text, framesDone: frames?.value, compose: compose) else {
            return true  // the database is away: the next write or the heartbeat will tell
        }
        if !written { lost.cancel() }
        return written
    }
}
