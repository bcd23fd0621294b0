import Foundation
import Logging
import PostgresNIO

/// What operators ask of the queue (`vfx queue ...`, `vfx workers`), and the retention sweep.
extension TaskQueue {
    /// Tasks by state and how long the oldest queued one has waited.
    public struct Stats: Codable, Sendable {
        public var tasks: [String: Int]
        public var oldestQueuedSeconds: Double?
        public var webhooksWaiting: Int
    }

    public func stats() async throws -> Stats {
        let counts = try await self.counts()
        let oldest = try await QueueError.wrap("reading the queue") { () -> Double? in
            for try await v in try await client.query("""
                SELECT extract(epoch FROM now() - min(created_at))::float8 FROM vfx_tasks WHERE state = 'queued'
                """, logger: logger).decode(Double?.self) { return v }
            return nil
        }
        return Stats(tasks: counts, oldestQueuedSeconds: oldest, webhooksWaiting: try await outboxDepth())
    }

    /// One prediction as a list shows it.
    public struct Listed: Codable, Sendable {
        public var id: String
        public var status: String
        public var createdAt: String
        public var finishedAt: String?
        public var attempts: Int
    }

    /// The newest predictions (of one status when given), at most `limit`.
    public func list(status: String? = nil, limit: Int = 50) async throws -> [Listed] {
        let wanted = status ?? ""
        return try await QueueError.wrap("listing predictions") {
            var out: [Listed] = []
            let rows = try await client.query("""
                SELECT p.id, p.status, p.created_at::text, p.finished_at::text, coalesce(max(t.attempts), 0)::int
                FROM vfx_predictions p LEFT JOIN vfx_tasks t ON t.prediction_id = p.id
                WHERE \(wanted) = '' OR p.status = \(wanted)
                GROUP BY p.id ORDER BY p.created_at DESC LIMIT \(limit)
                """, logger: logger)
            for try await (id, status, created, finished, attempts) in rows.decode((String, String, String, String?, Int).self) {
                out.append(Listed(id: id, status: status, createdAt: created, finishedAt: finished, attempts: attempts))
            }
            return out
        }
    }

    /// A task of a prediction, with its attempts (counted from 1), worker and last error.
    public struct TaskRow: Codable, Sendable {
        public var task: Int64
        public var state: String
        public var attempts: Int
        public var maxAttempts: Int
        public var worker: String?
        public var lastError: String?
        public var startedAt: String?
        public var finishedAt: String?
    }

    /// A prediction's tasks; nil when there is no such prediction.
    public func inspect(id: String) async throws -> (status: String, tasks: [TaskRow])? {
        guard let row = try await prediction(id: id) else { return nil }
        return try await QueueError.wrap("reading prediction \(id)'s tasks") {
            var tasks: [TaskRow] = []
            let rows = try await client.query("""
                SELECT id, state, attempts, max_attempts, worker_id, last_error, started_at::text, finished_at::text
                FROM vfx_tasks WHERE prediction_id = \(id) ORDER BY id
                """, logger: logger)
            for try await (task, state, attempts, max, worker, error, started, finished)
                    in rows.decode((Int64, String, Int, Int, String?, String?, String?, String?).self) {
                tasks.append(TaskRow(task: task, state: state, attempts: attempts, maxAttempts: max, worker: worker, lastError: error,
                                     startedAt: started, finishedAt: finished))
            }
            return (row.status, tasks)
        }
    }

    /// Queues a failed or cancelled prediction again (its attempts start over); false when it is not
    /// one (unknown, still queued or running, or succeeded).
    public func retry(id: String) async throws -> Bool {
        try await QueueError.wrap("queueing prediction \(id) again") {
            try await client.withTransaction(logger: logger) { c -> Bool in
                let rows = try await c.query("""
                    UPDATE vfx_predictions SET status = 'starting', cancel_requested = false, finished_at = NULL, updated_at = now(),
                        prediction = prediction || jsonb_build_object('status', 'starting', 'error', NULL, 'output', NULL,
                                                                      'completed_at', NULL, 'started_at', NULL)
                    WHERE id = \(id) AND status IN ('failed', 'canceled') RETURNING id
                    """, logger: logger)
                var found = false
                for try await _ in rows.decode(String.self) { found = true }
                guard found else { return false }
                // A split prediction is planned again: its chunks, its stitch and what they kept go.
                try await c.query("DELETE FROM vfx_tasks WHERE prediction_id = \(id) AND kind IN ('chunk', 'stitch')", logger: logger)
                try await c.query("DELETE FROM vfx_chunks WHERE prediction_id = \(id)", logger: logger)
                try await c.query("""
                    UPDATE vfx_tasks SET state = 'queued', attempts = 0, worker_id = NULL, lease_until = NULL, run_after = now(),
                        finished_at = NULL, result = NULL, frames_done = 0 WHERE prediction_id = \(id)
                    """, logger: logger)
                // A new run may report its end again.
                try await c.query("DELETE FROM vfx_outbox WHERE prediction_id = \(id) AND terminal", logger: logger)
                try await c.query("SELECT pg_notify(\(Self.channel), 'task')", logger: logger)
                return true
            }
        }
    }

    /// Removes finished predictions (with their tasks and webhooks) that ended more than `days` ago;
    /// 0 removes every finished one; uploads that expired go too. Returns how many predictions went.
    @discardableResult
    public func prune(olderThanDays days: Double) async throws -> Int {
        try await QueueError.wrap("pruning finished predictions") {
            try await client.query("DELETE FROM vfx_files WHERE expires_at <= now()", logger: logger)
            var n = 0
            for try await count in try await client.query("""
                WITH gone AS (DELETE FROM vfx_predictions WHERE finished_at IS NOT NULL
                              AND finished_at <= now() - make_interval(secs => \(days * 86400)) RETURNING 1)
                SELECT count(*)::int FROM gone
                """, logger: logger).decode(Int.self) { n = count }
            return n
        }
    }

    /// A worker as `vfx workers` shows it.
    public struct WorkerRow: Codable, Sendable {
        public var id: String
        public var host: String
        public var pid: Int
        public var concurrency: Int
        public var heartbeatAgeSeconds: Double
        public var running: [String]
    }

    public func workers() async throws -> [WorkerRow] {
        try await QueueError.wrap("listing workers") {
            var out: [WorkerRow] = []
            let rows = try await client.query("""
                SELECT w.id, w.host, w.pid, w.concurrency, extract(epoch FROM now() - w.heartbeat_at)::float8,
                       coalesce(string_agg(t.prediction_id, ',' ORDER BY t.id), '')
                FROM vfx_workers w LEFT JOIN vfx_tasks t ON t.worker_id = w.id AND t.state = 'running'
                GROUP BY w.id ORDER BY w.started_at
                """, logger: logger)
            for try await (id, host, pid, concurrency, age, running) in rows.decode((String, String, Int, Int, Double, String).self) {
                out.append(WorkerRow(id: id, host: host, pid: pid, concurrency: concurrency, heartbeatAgeSeconds: age,
                                     running: running.split(separator: ",").map(String.init)))
            }
            return out
        }
    }

    /// What item `item` of a fanned-out prediction gave (its output and metrics, or its error), as JSON.
    public func itemResult(id: String, item: Int) async throws -> String? {
        try await QueueError.wrap("reading item \(item + 1) of prediction \(id)") {
            for try await r in try await client.query("""
                SELECT result::text FROM vfx_tasks WHERE prediction_id = \(id) AND item = \(item)
                """, logger: logger).decode(String?.self) { return r }
            return nil
        }
    }

    /// Whether `worker` is the one that reports cluster-wide numbers: the oldest worker whose heartbeat
    /// is fresh (so exactly one does, and another takes over when it goes).
    public func isReporter(worker: String) async throws -> Bool {
        let fresh = settings.leaseSeconds
        return try await QueueError.wrap("choosing the reporting worker") {
            for try await first in try await client.query("""
                SELECT id FROM vfx_workers WHERE heartbeat_at > now() - make_interval(secs => \(fresh))
                ORDER BY started_at, id LIMIT 1
                """, logger: logger).decode(String.self) { return first == worker }
            return false
        }
    }
}
