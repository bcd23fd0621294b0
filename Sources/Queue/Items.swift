import Logging
import PostgresNIO

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
