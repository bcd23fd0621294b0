import Logging
import PostgresNIO

// MARK: - Split predictions

extension TaskQueue {
    /// Turns a claimed whole-prediction task into a split one, in one transaction: the task ends
    /// (`succeeded`, its result the chunk count), a task per chunk (`chunks[i]` its spec) is queued, and
    /// a stitch task (`stitch` its spec) waits until the last chunk succeeds; the prediction's JSON
    /// becomes `prediction`. False when the lease is gone (nothing written).
    public func split(_ lease: TaskLease, chunks: [String], stitch: String, prediction: String, logs: String) async throws -> Bool {
        let max = settings.maxAttempts
        return try await QueueError.wrap("splitting prediction \(lease.predictionID) into \(chunks.count) chunks") {
            try await client.withTransaction(logger: logger) { c -> Bool in
                let rows = try await c.query("""
                    UPDATE vfx_tasks SET state = 'succeeded', finished_at = now(), lease_until = NULL, logs = \(logs),
                        result = jsonb_build_object('chunks', \(chunks.count))
                    WHERE id = \(lease.task) AND worker_id = \(lease.worker) AND attempts = \(lease.attempt) AND state = 'running'
                    RETURNING id
                    """, logger: logger)
                var held = false
                for try await _ in rows.decode(Int64.self) { held = true }
                guard held else { return false }
                for (i, spec) in chunks.enumerated() {
                    try await c.query("""
                        INSERT INTO vfx_tasks (prediction_id, state, max_attempts, item, kind, spec)
                        VALUES (\(lease.predictionID), 'queued', \(max), \(i), 'chunk', \(spec)::jsonb)
                        """, logger: logger)
                }
                try await c.query("""
                    INSERT INTO vfx_tasks (prediction_id, state, max_attempts, kind, spec, run_after)
                    VALUES (\(lease.predictionID), 'queued', \(max), 'stitch', \(stitch)::jsonb, 'infinity')
                    """, logger: logger)
                try await c.query("""
                    UPDATE vfx_predictions SET prediction = \(prediction)::jsonb, status = 'processing', updated_at = now()
                    WHERE id = \(lease.predictionID)
                    """, logger: logger)
                try await c.query("SELECT pg_notify(\(Self.channel), 'task')", logger: logger)
                try await c.query("SELECT pg_notify(\(Self.channel), \("prediction:" + lease.predictionID))", logger: logger)
                return true
            }
        }
    }

    /// The encoded video chunk `index` of a split prediction left for its stitch; nil when it is not there.
    public func chunk(of predictionID: String, index: Int) async throws -> ByteBuffer? {
        try await QueueError.wrap("reading chunk \(index + 1) of prediction \(predictionID)") {
            for try await data in try await client.query("""
                SELECT data FROM vfx_chunks WHERE prediction_id = \(predictionID) AND chunk = \(index)
                """, logger: logger).decode(ByteBuffer.self) { return data }
            return nil
        }
    }

    /// What each chunk task of a split prediction gave (its result JSON), in chunk order.
    public func chunkResults(of predictionID: String) async throws -> [String?] {
        try await QueueError.wrap("reading the chunks of prediction \(predictionID)") {
            var out: [String?] = []
            for try await result in try await client.query("""
                SELECT result::text FROM vfx_tasks WHERE prediction_id = \(predictionID) AND kind = 'chunk' ORDER BY item
                """, logger: logger).decode(String?.self) { out.append(result) }
            return out
        }
    }
}
