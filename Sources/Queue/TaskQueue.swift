import Foundation
import Logging
import PostgresNIO

/// How long a claimed task's lease lasts and how it is kept, and how often a task may be tried.
public struct QueueSettings: Sendable {
    /// A task whose worker has not renewed its lease for this long is rescued.
    public var leaseSeconds: Double = 30
    /// How often a worker renews its leases (and every node looks for expired ones).
    public var heartbeatSeconds: Double = 10
    /// Claims of one task before its prediction fails.
    public var maxAttempts = 3
    /// Most tasks waiting across the cluster; past it a new prediction is refused.
    public var maxQueued = 1000
    /// Finished predictions are removed this many days after they ended.
    public var retentionDays: Double = 7

    public init() {}
}

/// A claimed task: only the worker holding this exact claim (task, worker, attempt) may write for it.
public struct TaskLease: Sendable, Hashable {
    public let task: Int64
    public let predictionID: String
    public let worker: String
    /// 1 for the first claim.
    public let attempt: Int
    public let maxAttempts: Int
    /// Seconds the task waited between its submit (or its last requeue) and this claim.
    public var waited: Double = 0
    /// The item of a fanned-out `videos` prediction this task runs (nil: the whole prediction).
    public var item: Int?

    public init(task: Int64, predictionID: String, worker: String, attempt: Int, maxAttempts: Int, waited: Double = 0, item: Int? = nil) {
        self.task = task; self.predictionID = predictionID; self.worker = worker; self.attempt = attempt
        self.maxAttempts = maxAttempts; self.waited = waited; self.item = item
    }

    public static func == (a: TaskLease, b: TaskLease) -> Bool {
        a.task == b.task && a.worker == b.worker && a.attempt == b.attempt
    }
    public func hash(into h: inout Hasher) { h.combine(task); h.combine(worker); h.combine(attempt) }
}

/// A prediction row: its Cog fields and its job, each as JSON.
public struct StoredPrediction: Sendable {
    public let id: String
    public let status: String
    public let prediction: String
    public let job: String
    public let cancelRequested: Bool
}

/// The predictions and their tasks in PostgreSQL: submit, claim with `FOR UPDATE SKIP LOCKED`, leases
/// in database time, guarded writes, rescue of expired leases, cancel. Every write a worker makes
/// names its ``TaskLease`` and changes nothing when the lease has moved on (rescued, or taken by
/// another worker), so a paused or partitioned worker can never overwrite the real result.
public final class TaskQueue: Sendable {
    public let client: PostgresClient
    public let settings: QueueSettings
    public let logger: Logger
    /// The one channel every node listens on; payloads: `task`, `prediction:ID`, `cancel:ID`.
    public static let channel = "vfx"

    public init(client: PostgresClient, settings: QueueSettings, logger: Logger) {
        self.client = client; self.settings = settings; self.logger = logger
    }

    /// What submitting gave.
    public enum Submitted: Sendable { case created, exists(StoredPrediction), full(queued: Int) }

    /// Stores a new prediction with one queued task, in one transaction; or returns the one already
    /// stored under `id`; or refuses when `maxQueued` tasks already wait.
    /// With `items`, the prediction fans out: one task per item (0..<items), which any workers take.
    public func submit(id: String, status: String, prediction: String, job: String, items: Int? = nil) async throws -> Submitted {
        let max = settings.maxAttempts, limit = settings.maxQueued
        return try await QueueError.wrap("storing prediction \(id)") {
            try await client.withTransaction(logger: logger) { c -> Submitted in
                // An id already stored is answered even when the queue is full.
                if let stored = try await Self.row(id, c, logger) { return .exists(stored) }
                var queued = 0
                for try await n in try await c.query("SELECT count(*)::int FROM vfx_tasks WHERE state = 'queued'", logger: logger).decode(Int.self) {
                    queued = n
                }
                if queued >= limit { return .full(queued: queued) }
                let inserted = try await c.query("""
                    INSERT INTO vfx_predictions (id, status, prediction, job) VALUES (\(id), \(status), \(prediction)::jsonb, \(job)::jsonb)
                    ON CONFLICT (id) DO NOTHING RETURNING id
                    """, logger: logger)
                var created = false
                for try await _ in inserted.decode(String.self) { created = true }
                guard created else { return .exists(try await Self.row(id, c, logger)!) }
                if let items {
                    try await c.query("""
                        INSERT INTO vfx_tasks (prediction_id, state, max_attempts, item)
                        SELECT \(id), 'queued', \(max), g FROM generate_series(0, \(items - 1)) g
                        """, logger: logger)
                } else {
                    try await c.query("INSERT INTO vfx_tasks (prediction_id, state, max_attempts) VALUES (\(id), 'queued', \(max))", logger: logger)
                }
                try await c.query("SELECT pg_notify(\(Self.channel), 'task')", logger: logger)
                return .created
            }
        }
    }

    static func row(_ id: String, _ c: PostgresConnection, _ logger: Logger) async throws -> StoredPrediction? {
        let rows = try await c.query("""
            SELECT id, status, prediction::text, job::text, cancel_requested FROM vfx_predictions WHERE id = \(id)
            """, logger: logger)
        for try await (id, status, prediction, job, cancel) in rows.decode((String, String, String, String, Bool).self) {
            return StoredPrediction(id: id, status: status, prediction: prediction, job: job, cancelRequested: cancel)
        }
        return nil
    }

    /// The prediction stored under `id`, if any.
    public func prediction(id: String) async throws -> StoredPrediction? {
        try await QueueError.wrap("reading prediction \(id)") {
            try await client.withConnection { try await Self.row(id, $0, logger) }
        }
    }

    /// Claims the oldest runnable task for `worker`, with a lease of ``QueueSettings/leaseSeconds``.
    public func claim(worker: String) async throws -> TaskLease? {
        let lease = settings.leaseSeconds
        return try await QueueError.wrap("claiming a task") {
            let rows = try await client.query("""
                UPDATE vfx_tasks t SET state = 'running', attempts = t.attempts + 1, worker_id = \(worker),
                    lease_until = now() + make_interval(secs => \(lease)), started_at = now()
                FROM (SELECT id FROM vfx_tasks WHERE state = 'queued' AND run_after <= now()
                      ORDER BY run_after, id LIMIT 1 FOR UPDATE SKIP LOCKED) q
                WHERE t.id = q.id
                RETURNING t.id, t.prediction_id, t.attempts, t.max_attempts,
                          extract(epoch FROM now() - greatest(t.created_at, t.run_after))::float8, t.item
                """, logger: logger)
            for try await (id, prediction, attempts, most, waited, item) in rows.decode((Int64, String, Int, Int, Double, Int?).self) {
                return TaskLease(task: id, predictionID: prediction, worker: worker, attempt: attempts, maxAttempts: most,
                                 waited: Swift.max(0, waited), item: item)
            }
            return nil
        }
    }

    /// Whether a lease is still held, and whether its prediction was asked to stop.
    public enum LeaseState: Sendable, Equatable { case held(cancelRequested: Bool), lost }

    /// Renews a lease; `.lost` when another worker or the rescuer has it now (the job must stop and write nothing).
    public func heartbeat(_ lease: TaskLease) async throws -> LeaseState {
        let seconds = settings.leaseSeconds
        return try await QueueError.wrap("renewing the lease of task \(lease.task)") {
            let rows = try await client.query("""
                UPDATE vfx_tasks t SET lease_until = now() + make_interval(secs => \(seconds))
                FROM vfx_predictions p
                WHERE t.id = \(lease.task) AND t.worker_id = \(lease.worker) AND t.attempts = \(lease.attempt) AND t.state = 'running'
                  AND p.id = t.prediction_id
                RETURNING p.cancel_requested
                """, logger: logger)
            for try await cancel in rows.decode(Bool.self) { return .held(cancelRequested: cancel) }
            return .lost
        }
    }

    /// Saves a running prediction's state (logs, status), with a webhook event to send if any; false
    /// when the lease is gone (nothing written).
    public func save(_ lease: TaskLease, status: String, prediction: String, event: OutboxEvent? = nil) async throws -> Bool {
        try await QueueError.wrap("saving prediction \(lease.predictionID)") {
            try await client.withTransaction(logger: logger) { c -> Bool in
                let rows = try await c.query("""
                    WITH t AS (SELECT id FROM vfx_tasks WHERE id = \(lease.task) AND worker_id = \(lease.worker)
                               AND attempts = \(lease.attempt) AND state = 'running')
                    UPDATE vfx_predictions p SET status = \(status), prediction = \(prediction)::jsonb, updated_at = now()
                    FROM t WHERE p.id = \(lease.predictionID)
                    RETURNING p.id
                    """, logger: logger)
                var saved = false
                for try await _ in rows.decode(String.self) { saved = true }
                guard saved else { return false }
                if let event { try await Self.enqueue(event, for: lease.predictionID, c, logger) }
                try await c.query("SELECT pg_notify(\(Self.channel), \("prediction:" + lease.predictionID))", logger: logger)
                return true
            }
        }
    }

    /// Ends a task and its prediction (`succeeded`, `failed` or `canceled`) with the webhook events that
    /// report it, in one transaction; false when the lease is gone, and then nothing is written.
    public func finish(_ lease: TaskLease, status: String, prediction: String, error: String?, events: [OutboxEvent] = []) async throws -> Bool {
        try await QueueError.wrap("finishing prediction \(lease.predictionID)") {
            try await client.withTransaction(logger: logger) { c -> Bool in
                let rows = try await c.query("""
                    UPDATE vfx_tasks SET state = \(status), finished_at = now(), lease_until = NULL, last_error = \(error)
                    WHERE id = \(lease.task) AND worker_id = \(lease.worker) AND attempts = \(lease.attempt) AND state = 'running'
                    RETURNING id
                    """, logger: logger)
                var held = false
                for try await _ in rows.decode(Int64.self) { held = true }
                guard held else { return false }
                try await c.query("""
                    UPDATE vfx_predictions SET status = \(status), prediction = \(prediction)::jsonb, updated_at = now(), finished_at = now()
                    WHERE id = \(lease.predictionID)
                    """, logger: logger)
                for event in events { try await Self.enqueue(event, for: lease.predictionID, c, logger) }
                try await c.query("SELECT pg_notify(\(Self.channel), \("prediction:" + lease.predictionID))", logger: logger)
                return true
            }
        }
    }

    /// Puts a task back in the queue after a transient failure, runnable `seconds` from now; false when
    /// the lease is gone.
    public func retry(_ lease: TaskLease, after seconds: Double, error: String, prediction: String) async throws -> Bool {
        try await QueueError.wrap("queueing prediction \(lease.predictionID) again") {
            try await client.withTransaction(logger: logger) { c -> Bool in
                let rows = try await c.query("""
                    UPDATE vfx_tasks SET state = 'queued', worker_id = NULL, lease_until = NULL, last_error = \(error),
                        run_after = now() + make_interval(secs => \(seconds))
                    WHERE id = \(lease.task) AND worker_id = \(lease.worker) AND attempts = \(lease.attempt) AND state = 'running'
                    RETURNING id
                    """, logger: logger)
                var requeued = false
                for try await _ in rows.decode(Int64.self) { requeued = true }
                guard requeued else { return false }
                try await c.query("UPDATE vfx_predictions SET prediction = \(prediction)::jsonb, updated_at = now() WHERE id = \(lease.predictionID)",
                                  logger: logger)
                try await c.query("SELECT pg_notify(\(Self.channel), 'task')", logger: logger)
                return true
            }
        }
    }

    /// Hands a task back untried (a worker shutting down): queued again, this claim not counted.
    public func release(_ lease: TaskLease) async throws {
        try await QueueError.wrap("releasing task \(lease.task)") {
            try await client.query("""
                UPDATE vfx_tasks SET state = 'queued', worker_id = NULL, lease_until = NULL, attempts = attempts - 1
                WHERE id = \(lease.task) AND worker_id = \(lease.worker) AND attempts = \(lease.attempt) AND state = 'running'
                """, logger: logger)
            try await client.query("SELECT pg_notify(\(Self.channel), 'task')", logger: logger)
        }
    }

    /// A task whose lease had expired: queued again, or failed for good after its last attempt.
    public struct Rescued: Sendable, Equatable {
        public let predictionID: String
        public let attempts: Int
        public let failed: Bool

        public init(predictionID: String, attempts: Int, failed: Bool) {
            self.predictionID = predictionID; self.attempts = attempts; self.failed = failed
        }
    }

    /// The time a prediction's JSON carries, as the server writes it (`2026-12-07T05:48:44.123456+00:00`).
    static let timestampSQL = #"to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"+00:00"')"#

    /// Requeues every task whose lease expired (its worker died or stalled); one whose last attempt it
    /// was fails its prediction with "worker lost N times". Safe on any number of nodes at once.
    public func rescue() async throws -> [Rescued] {
        try await QueueError.wrap("rescuing expired leases") {
            try await client.withTransaction(logger: logger) { c -> [Rescued] in
                let rows = try await c.query("""
                    UPDATE vfx_tasks SET
                        state = CASE WHEN attempts >= max_attempts THEN 'failed' ELSE 'queued' END,
                        finished_at = CASE WHEN attempts >= max_attempts THEN now() END,
                        worker_id = NULL, lease_until = NULL, run_after = now(),
                        last_error = 'worker lost ' || attempts || CASE WHEN attempts = 1 THEN ' time' ELSE ' times' END
                    WHERE id IN (SELECT id FROM vfx_tasks WHERE state = 'running' AND lease_until < now() FOR UPDATE SKIP LOCKED)
                    RETURNING prediction_id, attempts, state = 'failed'
                    """, logger: logger)
                var rescued: [Rescued] = []
                for try await (id, attempts, failed) in rows.decode((String, Int, Bool).self) {
                    rescued.append(Rescued(predictionID: id, attempts: attempts, failed: failed))
                }
                for r in rescued where r.failed {
                    let reason = "worker lost \(r.attempts) " + (r.attempts == 1 ? "time" : "times")
                    try await Self.end(r.predictionID, status: "failed", error: reason, c, logger)
                }
                if !rescued.isEmpty { try await c.query("SELECT pg_notify(\(Self.channel), 'task')", logger: logger) }
                return rescued
            }
        }
    }

    /// Ends a prediction that no worker holds (its task failed in the rescue, or was cancelled while queued).
    static func end(_ id: String, status: String, error: String?, _ c: PostgresConnection, _ logger: Logger) async throws {
        // A fanned-out prediction's items still waiting never start.
        try await c.query("UPDATE vfx_tasks SET state = 'canceled', finished_at = now() WHERE prediction_id = \(id) AND state = 'queued'",
                          logger: logger)
        try await c.query("""
            UPDATE vfx_predictions SET status = \(status), finished_at = now(), updated_at = now(),
                prediction = prediction || jsonb_build_object('status', \(status)::text, 'error', \(error)::text,
                                                              'completed_at', \(unescaped: timestampSQL))
            WHERE id = \(id)
            """, logger: logger)
        // Its one terminal webhook, when the request asked for it (no filter: every event; an empty one:
        // the terminal event only, as Cog does).
        try await c.query("""
            INSERT INTO vfx_outbox (prediction_id, event, url, body, terminal)
            SELECT id, 'completed', prediction->>'webhook', prediction, true FROM vfx_predictions
            WHERE id = \(id) AND coalesce(prediction->>'webhook', '') <> ''
              AND (jsonb_typeof(prediction->'webhook_events_filter') IS DISTINCT FROM 'array'
                   OR jsonb_array_length(prediction->'webhook_events_filter') = 0
                   OR prediction->'webhook_events_filter' ? 'completed')
            ON CONFLICT DO NOTHING
            """, logger: logger)
        try await c.query("SELECT pg_notify(\(Self.channel), \("prediction:" + id))", logger: logger)
    }

    /// What a cancel did.
    public enum Cancelled: Sendable, Equatable { case unknown, alreadyFinished, cancelledQueued, signalled }

    /// Asks a prediction to stop: a queued one ends `canceled` now and never starts; a running one's
    /// worker is told (notification, and its next heartbeat).
    public func requestCancel(id: String) async throws -> Cancelled {
        try await QueueError.wrap("cancelling prediction \(id)") {
            try await client.withTransaction(logger: logger) { c -> Cancelled in
                guard let row = try await Self.row(id, c, logger) else { return .unknown }
                if ["succeeded", "failed", "canceled"].contains(row.status) { return .alreadyFinished }
                try await c.query("UPDATE vfx_predictions SET cancel_requested = true WHERE id = \(id)", logger: logger)
                let queued = try await c.query("""
                    UPDATE vfx_tasks SET state = 'canceled', finished_at = now() WHERE prediction_id = \(id) AND state = 'queued' RETURNING id
                    """, logger: logger)
                var wasQueued = false
                for try await _ in queued.decode(Int64.self) { wasQueued = true }
                // Running tasks (a fanned-out prediction may have both) are told to stop.
                try await c.query("SELECT pg_notify(\(Self.channel), \("cancel:" + id))", logger: logger)
                if wasQueued {
                    try await Self.end(id, status: "canceled", error: nil, c, logger)
                    return .cancelledQueued
                }
                return .signalled
            }
        }
    }

    // MARK: - Workers

    /// Records a worker (and renews its heartbeat).
    public func beat(worker: String, host: String, pid: Int, concurrency: Int) async throws {
        try await QueueError.wrap("recording worker \(worker)") {
            try await client.query("""
                INSERT INTO vfx_workers (id, host, pid, concurrency) VALUES (\(worker), \(host), \(pid), \(concurrency))
                ON CONFLICT (id) DO UPDATE SET heartbeat_at = now()
                """, logger: logger)
        }
    }

    /// Forgets a worker that stopped.
    public func remove(worker: String) async throws {
        try await QueueError.wrap("removing worker \(worker)") {
            try await client.query("DELETE FROM vfx_workers WHERE id = \(worker)", logger: logger)
        }
    }

    /// Tasks by state.
    public func counts() async throws -> [String: Int] {
        try await QueueError.wrap("counting tasks") {
            var out: [String: Int] = [:]
            for try await (state, n) in try await client.query("SELECT state, count(*)::int FROM vfx_tasks GROUP BY state", logger: logger)
                .decode((String, Int).self) { out[state] = n }
            return out
        }
    }

    /// Whether the database answers.
    public func ping() async -> Bool {
        (try? await client.query("SELECT 1", logger: logger)) != nil
    }

    // MARK: - Webhook outbox

    static func enqueue(_ event: OutboxEvent, for id: String, _ c: PostgresConnection, _ logger: Logger) async throws {
        try await c.query("""
            INSERT INTO vfx_outbox (prediction_id, event, url, body, terminal)
            VALUES (\(id), \(event.event), \(event.url), \(event.body)::jsonb, \(event.terminal))
            ON CONFLICT DO NOTHING
            """, logger: logger)
    }

    /// Claims the next webhook to send for `node`: the oldest unsent one whose prediction has no older
    /// unsent one (events go in order), held for `seconds`; another node may take it after that.
    public func claimWebhook(node: String, seconds: Double = 30) async throws -> OutboxItem? {
        try await QueueError.wrap("claiming a webhook") {
            let rows = try await client.query("""
                UPDATE vfx_outbox o SET claimed_by = \(node), claimed_until = now() + make_interval(secs => \(seconds)),
                    attempts = o.attempts + 1
                FROM (SELECT x.id FROM vfx_outbox x
                      WHERE x.sent_at IS NULL AND x.next_at <= now() AND (x.claimed_until IS NULL OR x.claimed_until < now())
                        AND NOT EXISTS (SELECT 1 FROM vfx_outbox y WHERE y.prediction_id = x.prediction_id AND y.id < x.id AND y.sent_at IS NULL)
                      ORDER BY x.id LIMIT 1 FOR UPDATE SKIP LOCKED) q
                WHERE o.id = q.id
                RETURNING o.id, o.prediction_id, o.event, o.url, o.body::text, o.terminal, o.attempts
                """, logger: logger)
            for try await (id, prediction, event, url, body, terminal, attempts) in rows.decode((Int64, String, String, String, String, Bool, Int).self) {
                return OutboxItem(id: id, predictionID: prediction, event: event, url: url, body: body, terminal: terminal, attempt: attempts)
            }
            return nil
        }
    }

    /// Records a webhook's fate: sent, to be tried again after `retryAfter` seconds, or given up.
    public func settleWebhook(_ item: OutboxItem, node: String, sent: Bool, retryAfter: Double?) async throws {
        try await QueueError.wrap("recording webhook \(item.id)") {
            if sent || retryAfter == nil {
                try await client.query("""
                    UPDATE vfx_outbox SET sent_at = now(), gave_up = \(!sent), claimed_by = NULL, claimed_until = NULL
                    WHERE id = \(item.id) AND claimed_by = \(node)
                    """, logger: logger)
            } else {
                try await client.query("""
                    UPDATE vfx_outbox SET next_at = now() + make_interval(secs => \(retryAfter!)), claimed_by = NULL, claimed_until = NULL
                    WHERE id = \(item.id) AND claimed_by = \(node)
                    """, logger: logger)
            }
        }
    }

    /// Webhooks not yet sent (nor given up).
    public func outboxDepth() async throws -> Int {
        try await QueueError.wrap("counting webhooks") {
            for try await n in try await client.query("SELECT count(*)::int FROM vfx_outbox WHERE sent_at IS NULL", logger: logger).decode(Int.self) {
                return n
            }
            return 0
        }
    }
}

/// A webhook to send once the state it reports is written.
public struct OutboxEvent: Sendable {
    public let event: String
    public let url: String
    /// The prediction as it stood, as JSON.
    public let body: String
    /// The `completed` event: one per prediction, however often a finish is attempted.
    public let terminal: Bool

    public init(event: String, url: String, body: String, terminal: Bool) {
        self.event = event; self.url = url; self.body = body; self.terminal = terminal
    }
}

/// A claimed webhook.
public struct OutboxItem: Sendable {
    public let id: Int64
    public let predictionID: String
    public let event: String
    public let url: String
    public let body: String
    public let terminal: Bool
    /// 1 for the first try.
    public let attempt: Int
}

// MARK: - Fanned-out items

extension TaskQueue {
    /// Puts an item task back in the queue after a transient failure, keeping its logs; false when
    /// the lease is gone.
    public func requeueItem(_ lease: TaskLease, after seconds: Double, error: String, logs: String) async throws -> Bool {
        try await QueueError.wrap("queueing item \((lease.item ?? 0) + 1) of prediction \(lease.predictionID) again") {
            var requeued = false
            for try await _ in try await client.query("""
                UPDATE vfx_tasks SET state = 'queued', worker_id = NULL, lease_until = NULL, last_error = \(error), logs = \(logs),
                    run_after = now() + make_interval(secs => \(seconds))
                WHERE id = \(lease.task) AND worker_id = \(lease.worker) AND attempts = \(lease.attempt) AND state = 'running'
                RETURNING id
                """, logger: logger).decode(Int64.self) { requeued = true }
            if requeued { try await client.query("SELECT pg_notify(\(Self.channel), 'task')", logger: logger) }
            return requeued
        }
    }
}

/// One item task of a fanned-out prediction, as its siblings see it.
public struct ItemState: Sendable {
    public let item: Int
    public let state: String
    /// What the item gave, as JSON (its output and metrics, or its error), once it ended.
    public let result: String?
    public let logs: String
}

/// What an item's write makes of its prediction: its new JSON (and status), the webhooks to send, and
/// whether the siblings must stop (an item failed and the prediction with it).
public struct ItemComposition: Sendable {
    public let status: String
    public let prediction: String
    public let events: [OutboxEvent]
    public let stopSiblings: Bool
    public init(status: String, prediction: String, events: [OutboxEvent], stopSiblings: Bool) {
        self.status = status; self.prediction = prediction; self.events = events; self.stopSiblings = stopSiblings
    }
}

extension TaskQueue {
    /// Writes an item task's logs (and, with `state`, its end and `result`), then lets `compose` make the
    /// prediction from every item as it stands, in one transaction with the prediction's row locked, so
    /// items that end together assemble it once. False when the lease is gone (nothing written); a
    /// prediction that already ended (another item failed it, or it was cancelled) is left as it is.
    public func writeItem(_ lease: TaskLease, state: String?, result: String?, logs: String,
                          compose: @Sendable (_ prediction: String, _ status: String, _ items: [ItemState]) throws -> ItemComposition?)
        async throws -> Bool {
        try await QueueError.wrap("saving item \((lease.item ?? 0) + 1) of prediction \(lease.predictionID)") {
            try await client.withTransaction(logger: logger) { c -> Bool in
                let finishing = state != nil
                let rows = try await c.query("""
                    UPDATE vfx_tasks SET logs = \(logs),
                        state = coalesce(\(state), state), result = coalesce(\(result)::jsonb, result),
                        finished_at = CASE WHEN \(finishing) THEN now() ELSE finished_at END,
                        lease_until = CASE WHEN \(finishing) THEN NULL ELSE lease_until END
                    WHERE id = \(lease.task) AND worker_id = \(lease.worker) AND attempts = \(lease.attempt) AND state = 'running'
                    RETURNING id
                    """, logger: logger)
                var held = false
                for try await _ in rows.decode(Int64.self) { held = true }
                guard held else { return false }
                var current: (String, String)?
                for try await (status, prediction) in try await c.query("""
                    SELECT status, prediction::text FROM vfx_predictions WHERE id = \(lease.predictionID) FOR UPDATE
                    """, logger: logger).decode((String, String).self) { current = (status, prediction) }
                guard let (status, prediction) = current, !["succeeded", "failed", "canceled"].contains(status) else { return true }
                var items: [ItemState] = []
                for try await (item, state, result, logs) in try await c.query("""
                    SELECT item, state, result::text, logs FROM vfx_tasks WHERE prediction_id = \(lease.predictionID) ORDER BY item
                    """, logger: logger).decode((Int, String, String?, String).self) {
                    items.append(ItemState(item: item, state: state, result: result, logs: logs))
                }
                guard let next = try compose(prediction, status, items) else { return true }
                let terminal = ["succeeded", "failed", "canceled"].contains(next.status)
                try await c.query("""
                    UPDATE vfx_predictions SET status = \(next.status), prediction = \(next.prediction)::jsonb, updated_at = now(),
                        finished_at = CASE WHEN \(terminal) THEN now() ELSE NULL END
                    WHERE id = \(lease.predictionID)
                    """, logger: logger)
                for event in next.events { try await Self.enqueue(event, for: lease.predictionID, c, logger) }
                if next.stopSiblings {
                    try await c.query("""
                        UPDATE vfx_tasks SET state = 'canceled', finished_at = now() WHERE prediction_id = \(lease.predictionID) AND state = 'queued'
                        """, logger: logger)
                    try await c.query("UPDATE vfx_predictions SET cancel_requested = true WHERE id = \(lease.predictionID)", logger: logger)
                    try await c.query("SELECT pg_notify(\(Self.channel), \("cancel:" + lease.predictionID))", logger: logger)
                }
                try await c.query("SELECT pg_notify(\(Self.channel), \("prediction:" + lease.predictionID))", logger: logger)
                return true
            }
        }
    }
}
