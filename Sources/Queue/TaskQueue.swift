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
    /// The item of a fanned-out `videos` prediction, or the chunk of a split one, this task runs
    /// (nil: the whole prediction, or its stitch).
    public var item: Int?
    public var kind: TaskKind = .job
    /// What a chunk or stitch task runs, as JSON.
    public var spec: String?
    /// The log an item or chunk task's earlier attempts left (a retry goes on from it).
    public var logs = ""

    public init(task: Int64, predictionID: String, worker: String, attempt: Int, maxAttempts: Int, waited: Double = 0, item: Int? = nil,
                kind: TaskKind = .job, spec: String? = nil) {
        self.task = task; self.predictionID = predictionID; self.worker = worker; self.attempt = attempt
        self.maxAttempts = maxAttempts; self.waited = waited; self.item = item; self.kind = kind; self.spec = spec
    }

    public static func == (a: TaskLease, b: TaskLease) -> Bool {
        a.task == b.task && a.worker == b.worker && a.attempt == b.attempt
    }
    public func hash(into h: inout Hasher) { h.combine(task); h.combine(worker); h.combine(attempt) }
}

/// What a task runs: a whole prediction, an item of a `videos` one, or a chunk or the stitch of a split one.
public enum TaskKind: String, Sendable, Codable {
    case job, item, chunk, stitch
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
                for try await n in try await c.query("""
                    SELECT count(*)::int FROM vfx_tasks WHERE state = 'queued' AND run_after <> 'infinity'
                    """, logger: logger).decode(Int.self) {
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
                        INSERT INTO vfx_tasks (prediction_id, state, max_attempts, item, kind)
                        SELECT \(id), 'queued', \(max), g, 'item' FROM generate_series(0, \(items - 1)) g
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
                          extract(epoch FROM now() - greatest(t.created_at, t.run_after))::float8, t.item, t.kind, t.spec::text, t.logs
                """, logger: logger)
            for try await (id, prediction, attempts, most, waited, item, kind, spec, logs)
                in rows.decode((Int64, String, Int, Int, Double, Int?, String, String?, String).self) {
                var lease = TaskLease(task: id, predictionID: prediction, worker: worker, attempt: attempts, maxAttempts: most,
                                      waited: Swift.max(0, waited), item: item, kind: TaskKind(rawValue: kind) ?? .job, spec: spec)
                lease.logs = logs
                return lease
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
                // A split prediction's chunks were read by its stitch (this task); they go with its end.
                try await c.query("DELETE FROM vfx_chunks WHERE prediction_id = \(lease.predictionID)", logger: logger)
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
        /// The item of a fanned-out prediction, or chunk of a split one, the task ran (nil: the whole
        /// prediction, or its stitch).
        public var item: Int?

        public init(predictionID: String, attempts: Int, failed: Bool, item: Int? = nil) {
            self.predictionID = predictionID; self.attempts = attempts; self.failed = failed; self.item = item
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
                    RETURNING prediction_id, attempts, state = 'failed', item
                    """, logger: logger)
                var rescued: [Rescued] = []
                for try await (id, attempts, failed, item) in rows.decode((String, Int, Bool, Int?).self) {
                    rescued.append(Rescued(predictionID: id, attempts: attempts, failed: failed, item: item))
                }
                for r in rescued where r.failed {
                    let reason = "worker lost \(r.attempts) " + (r.attempts == 1 ? "time" : "times")
                    if let item = r.item {
                        // An item fails alone; its prediction is made again from its items by the caller.
                        try await c.query("""
                            UPDATE vfx_tasks SET result = jsonb_build_object('error', \(reason)::text, 'error_category', 'internal')
                            WHERE prediction_id = \(r.predictionID) AND item = \(item)
                            """, logger: logger)
                    } else {
                        try await Self.end(r.predictionID, status: "failed", error: reason, c, logger)
                    }
                }
                if !rescued.isEmpty { try await c.query("SELECT pg_notify(\(Self.channel), 'task')", logger: logger) }
                return rescued
            }
        }
    }

    /// Ends a prediction that no worker holds (its task failed in the rescue, or was cancelled while queued).
    static func end(_ id: String, status: String, error: String?, _ c: PostgresConnection, _ logger: Logger) async throws {
        // A fanned-out prediction's items (or a split one's chunks and stitch) still waiting never start;
        // the chunks it made go.
        try await c.query("UPDATE vfx_tasks SET state = 'canceled', finished_at = now() WHERE prediction_id = \(id) AND state = 'queued'",
                          logger: logger)
        try await c.query("DELETE FROM vfx_chunks WHERE prediction_id = \(id)", logger: logger)
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
}

