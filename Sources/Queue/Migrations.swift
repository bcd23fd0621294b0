import Logging
import PostgresNIO

/// The schema, as numbered steps applied once each, in order, under an advisory lock (so nodes that
/// start together apply each step once), by every node at start and by `vfx db migrate`.
public enum Migrations {
    /// Version n is `steps[n - 1]`; a step is never edited once released, only followed by another.
    static let steps: [[PostgresQuery]] = [
        [
            """
            CREATE TABLE vfx_predictions (
                id text PRIMARY KEY,
                status text NOT NULL,
                prediction jsonb NOT NULL,
                job jsonb NOT NULL,
                cancel_requested boolean NOT NULL DEFAULT false,
                created_at timestamptz NOT NULL DEFAULT now(),
                updated_at timestamptz NOT NULL DEFAULT now(),
                finished_at timestamptz)
            """,
            "CREATE INDEX vfx_predictions_finished ON vfx_predictions (finished_at) WHERE finished_at IS NOT NULL",
            """
            CREATE TABLE vfx_tasks (
                id bigserial PRIMARY KEY,
                prediction_id text NOT NULL REFERENCES vfx_predictions(id) ON DELETE CASCADE,
                state text NOT NULL CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
                attempts int NOT NULL DEFAULT 0,
                max_attempts int NOT NULL,
                run_after timestamptz NOT NULL DEFAULT now(),
                worker_id text,
                lease_until timestamptz,
                last_error text,
                created_at timestamptz NOT NULL DEFAULT now(),
                started_at timestamptz,
                finished_at timestamptz)
            """,
            "CREATE INDEX vfx_tasks_queued ON vfx_tasks (run_after, id) WHERE state = 'queued'",
            "CREATE INDEX vfx_tasks_leases ON vfx_tasks (lease_until) WHERE state = 'running'",
            "CREATE INDEX vfx_tasks_prediction ON vfx_tasks (prediction_id)",
            """
            CREATE TABLE vfx_workers (
                id text PRIMARY KEY,
                host text NOT NULL,
                pid int NOT NULL,
                concurrency int NOT NULL,
                started_at timestamptz NOT NULL DEFAULT now(),
                heartbeat_at timestamptz NOT NULL DEFAULT now())
            """,
        ],
        [
            // Webhooks leave through this outbox: written in the same transaction as the state they
            // report, sent by any node, in order per prediction, at least once; one terminal row each.
            """
            CREATE TABLE vfx_outbox (
                id bigserial PRIMARY KEY,
                prediction_id text NOT NULL REFERENCES vfx_predictions(id) ON DELETE CASCADE,
                event text NOT NULL,
                url text NOT NULL,
                body jsonb NOT NULL,
                terminal boolean NOT NULL,
                attempts int NOT NULL DEFAULT 0,
                next_at timestamptz NOT NULL DEFAULT now(),
                claimed_by text,
                claimed_until timestamptz,
                sent_at timestamptz,
                gave_up boolean NOT NULL DEFAULT false,
                created_at timestamptz NOT NULL DEFAULT now())
            """,
            "CREATE UNIQUE INDEX vfx_outbox_one_terminal ON vfx_outbox (prediction_id) WHERE terminal",
            "CREATE INDEX vfx_outbox_pending ON vfx_outbox (id) WHERE sent_at IS NULL",
        ],
        [
            // A `videos` prediction fans out: one task per item, each with its own logs and result.
            "ALTER TABLE vfx_tasks ADD COLUMN item int",
            "ALTER TABLE vfx_tasks ADD COLUMN logs text NOT NULL DEFAULT ''",
            "ALTER TABLE vfx_tasks ADD COLUMN result jsonb",
        ],
        [
            // A long video splits: its first task plans it and adds a task per chunk and one stitch task,
            // which waits (run_after infinity) until the last chunk succeeds. The chunks' encoded video
            // waits in vfx_chunks for the stitch, and goes with it (or with the prediction's end).
            "ALTER TABLE vfx_tasks ADD COLUMN kind text NOT NULL DEFAULT 'job' CHECK (kind IN ('job', 'item', 'chunk', 'stitch'))",
            "UPDATE vfx_tasks SET kind = 'item' WHERE item IS NOT NULL",
            "ALTER TABLE vfx_tasks ADD COLUMN spec jsonb",
            "ALTER TABLE vfx_tasks ADD COLUMN frames_done int NOT NULL DEFAULT 0",
            """
            CREATE TABLE vfx_chunks (
                prediction_id text NOT NULL REFERENCES vfx_predictions(id) ON DELETE CASCADE,
                chunk int NOT NULL,
                data bytea NOT NULL,
                PRIMARY KEY (prediction_id, chunk))
            """,
        ],
        [
            // Uploads (POST /files) in a cluster: any node reads them; each goes when it expires.
            """
            CREATE TABLE vfx_files (
                id text PRIMARY KEY,
                meta jsonb NOT NULL,
                size int8 NOT NULL,
                data bytea NOT NULL,
                created_at timestamptz NOT NULL DEFAULT now(),
                expires_at timestamptz NOT NULL)
            """,
            "CREATE INDEX vfx_files_expiry ON vfx_files (expires_at)",
        ],
    ]

    /// The newest version this binary knows.
    public static var latest: Int { steps.count }

    /// Brings the schema to ``latest``; returns the versions applied now (none when it was current).
    @discardableResult
    public static func apply(_ client: PostgresClient, logger: Logger) async throws -> [Int] {
        try await QueueError.wrap("applying the schema migrations") {
            try await client.withTransaction(logger: logger) { connection -> [Int] in
                try await connection.query("SELECT pg_advisory_xact_lock(hashtext('vfx_migrations'))", logger: logger)
                try await connection.query("""
                    CREATE TABLE IF NOT EXISTS vfx_schema (version int PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())
                    """, logger: logger)
                var current = 0
                for try await v in try await connection.query("SELECT coalesce(max(version), 0) FROM vfx_schema", logger: logger).decode(Int.self) {
                    current = v
                }
                guard current <= latest else { throw QueueError.schemaTooNew(found: current, known: latest) }
                var applied: [Int] = []
                for version in (current + 1)...max(current + 1, latest) where version <= latest {
                    for statement in steps[version - 1] { try await connection.query(statement, logger: logger) }
                    try await connection.query("INSERT INTO vfx_schema (version) VALUES (\(version))", logger: logger)
                    applied.append(version)
                }
                return applied
            }
        }
    }
}
