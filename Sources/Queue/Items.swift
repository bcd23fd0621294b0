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
    /// Nil for a split prediction's planning and stitch tasks.
    public let item: Int?
    public let kind: TaskKind
    public let state: String
    /// What the item gave, as JSON (its output and metrics, or its error), once it ended.
    public let result: String?
    public let logs: String
    /// Frames a chunk has encoded so far.
    public let framesDone: Int
    /// What a chunk runs, as JSON.
    public let spec: String?
}

/// What an item's write makes of its prediction: its new JSON (and status), the webhooks to send, and
/// whether the siblings must stop (an item failed and the prediction with it).
public struct ItemComposition: Sendable {
    public let status: String
    public let prediction: String
    public let events: [OutboxEvent]
    public let stopSiblings: Bool
    /// A split prediction's last chunk succeeded: its stitch task may run.
    public var releaseStitch = false
    public init(status: String, prediction: String, events: [OutboxEvent], stopSiblings: Bool, releaseStitch: Bool = false) {
        self.status = status; self.prediction = prediction; self.events = events; self.stopSiblings = stopSiblings
        self.releaseStitch = releaseStitch
    }
}

extension TaskQueue {
    /// Writes an item task's logs (and, with `state`, its end and `result`), then lets `compose` make the
    /// prediction from every item as it stands, in one transaction with the prediction's row locked, so
    /// items that end together assemble it once. False when the lease is gone (nothing written); a
    /// prediction that already ended (another item failed it, or it was cancelled) is left as it is.
    /// A chunk's `framesDone` is kept for the prediction's progress; a chunk that succeeded hands its
    /// encoded video over as `chunk`, kept for the stitch unless the prediction already ended.
    public func writeItem(_ lease: TaskLease, state: String?, result: String?, logs: String, framesDone: Int? = nil,
                          chunk: ByteBuffer? = nil, compose: Composer) async throws -> Bool {
        try await QueueError.wrap("saving item \((lease.item ?? 0) + 1) of prediction \(lease.predictionID)") {
            try await client.withTransaction(logger: logger) { c -> Bool in
                let finishing = state != nil
                let rows = try await c.query("""
                    UPDATE vfx_tasks SET logs = \(logs), frames_done = coalesce(\(framesDone), frames_done),
                        state = coalesce(\(state), state), result = coalesce(\(result)::jsonb, result),
                        finished_at = CASE WHEN \(finishing) THEN now() ELSE finished_at END,
                        lease_until = CASE WHEN \(finishing) THEN NULL ELSE lease_until END
                    WHERE id = \(lease.task) AND worker_id = \(lease.worker) AND attempts = \(lease.attempt) AND state = 'running'
                    RETURNING id
                    """, logger: logger)
                var held = false
                for try await _ in rows.decode(Int64.self) { held = true }
                guard held else { return false }
                let kept = chunk.flatMap { data in lease.item.map { (index: $0, data: data) } }
                try await Self.compose(lease.predictionID, c, logger, compose, chunk: kept)
                return true
            }
        }
    }

    public typealias Composer = @Sendable (_ prediction: String, _ status: String, _ items: [ItemState]) throws -> ItemComposition?

    /// Makes prediction `id` again from its items (after the rescue failed one of them for good), as an
    /// item's own write does.
    public func recompose(_ id: String, compose: Composer) async throws {
        try await QueueError.wrap("making prediction \(id) from its items") {
            try await client.withTransaction(logger: logger) { c in try await Self.compose(id, c, logger, compose) }
        }
    }

    /// With the prediction's row locked: its items as they stand, `compose`'s verdict written with its
    /// webhooks, and the siblings stopped when it says so. Nothing when the prediction already ended.
    static func compose(_ id: String, _ c: PostgresConnection, _ logger: Logger, _ compose: Composer,
                        chunk: (index: Int, data: ByteBuffer)? = nil) async throws {
                var current: (String, String)?
                for try await (status, prediction) in try await c.query("""
                    SELECT status, prediction::text FROM vfx_predictions WHERE id = \(id) FOR UPDATE
                    """, logger: logger).decode((String, String).self) { current = (status, prediction) }
                guard let (status, prediction) = current, !["succeeded", "failed", "canceled"].contains(status) else { return }
                if let chunk {
                    try await c.query("""
                        INSERT INTO vfx_chunks (prediction_id, chunk, data) VALUES (\(id), \(chunk.index), \(chunk.data))
                        ON CONFLICT (prediction_id, chunk) DO UPDATE SET data = EXCLUDED.data
                        """, logger: logger)
                }
                var items: [ItemState] = []
                for try await (item, kind, state, result, logs, frames, spec) in try await c.query("""
                    SELECT item, kind, state, result::text, logs, frames_done, spec::text FROM vfx_tasks WHERE prediction_id = \(id)
                    ORDER BY item NULLS FIRST, id
                    """, logger: logger).decode((Int?, String, String, String?, String, Int, String?).self) {
                    items.append(ItemState(item: item, kind: TaskKind(rawValue: kind) ?? .job, state: state, result: result, logs: logs,
                                           framesDone: frames, spec: spec))
                }
                guard let next = try compose(prediction, status, items) else { return }
                let terminal = ["succeeded", "failed", "canceled"].contains(next.status)
                try await c.query("""
                    UPDATE vfx_predictions SET status = \(next.status), prediction = \(next.prediction)::jsonb, updated_at = now(),
                        finished_at = CASE WHEN \(terminal) THEN now() ELSE NULL END
                    WHERE id = \(id)
                    """, logger: logger)
                for event in next.events { try await Self.enqueue(event, for: id, c, logger) }
                if terminal { try await c.query("DELETE FROM vfx_chunks WHERE prediction_id = \(id)", logger: logger) }
                if next.releaseStitch {
                    try await c.query("""
                        UPDATE vfx_tasks SET run_after = now() WHERE prediction_id = \(id) AND kind = 'stitch' AND state = 'queued'
                        """, logger: logger)
                    try await c.query("SELECT pg_notify(\(Self.channel), 'task')", logger: logger)
                }
                if next.stopSiblings {
                    try await c.query("""
                        UPDATE vfx_tasks SET state = 'canceled', finished_at = now() WHERE prediction_id = \(id) AND state = 'queued'
                        """, logger: logger)
                    try await c.query("UPDATE vfx_predictions SET cancel_requested = true WHERE id = \(id)", logger: logger)
                    try await c.query("SELECT pg_notify(\(Self.channel), \("cancel:" + id))", logger: logger)
                }
                try await c.query("SELECT pg_notify(\(Self.channel), \("prediction:" + id))", logger: logger)
    }
}
