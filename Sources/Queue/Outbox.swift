import Logging
import PostgresNIO

/// The webhook outbox: events written with the state they report, claimed and sent by any node.
extension TaskQueue {
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

