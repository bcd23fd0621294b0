import Logging
import PostgresNIO

// MARK: - Uploaded files (the files API in a cluster)

extension TaskQueue {
    /// Stores an uploaded file (`meta`: its JSON as the files API shows it) for `expiresIn` seconds,
    /// when the files that have not expired leave room for it under `maxTotalBytes`; expired ones go
    /// first. False when there is no room (nothing stored).
    public func storeFile(id: String, meta: String, data: ByteBuffer, expiresIn: Double, maxTotalBytes: Int) async throws -> Bool {
        let size = data.readableBytes
        return try await QueueError.wrap("storing file \(id)") {
            try await client.withTransaction(logger: logger) { c -> Bool in
                // One upload at a time counts the total, so two cannot both fit its last room.
                try await c.query("SELECT pg_advisory_xact_lock(hashtext('vfx_files'))", logger: logger)
                try await c.query("DELETE FROM vfx_files WHERE expires_at <= now()", logger: logger)
                var used = 0
                for try await n in try await c.query("SELECT coalesce(sum(size), 0)::int8 FROM vfx_files", logger: logger).decode(Int.self) {
                    used = n
                }
                guard used + size <= maxTotalBytes else { return false }
                try await c.query("""
                    INSERT INTO vfx_files (id, meta, size, data, expires_at)
                    VALUES (\(id), \(meta)::jsonb, \(size), \(data), now() + make_interval(secs => \(expiresIn)))
                    """, logger: logger)
                return true
            }
        }
    }

    /// A stored file's JSON, unless it expired or was never stored.
    public func fileMeta(id: String) async throws -> String? {
        try await QueueError.wrap("reading file \(id)") {
            for try await meta in try await client.query("""
                SELECT meta::text FROM vfx_files WHERE id = \(id) AND expires_at > now()
                """, logger: logger).decode(String.self) { return meta }
            return nil
        }
    }

    /// A stored file's bytes, unless it expired or was never stored.
    public func fileData(id: String) async throws -> ByteBuffer? {
        try await QueueError.wrap("reading file \(id)") {
            for try await data in try await client.query("""
                SELECT data FROM vfx_files WHERE id = \(id) AND expires_at > now()
                """, logger: logger).decode(ByteBuffer.self) { return data }
            return nil
        }
    }

    /// Removes a stored file; false when there was none (or it had expired).
    public func deleteFile(id: String) async throws -> Bool {
        try await QueueError.wrap("deleting file \(id)") {
            var deleted = false
            for try await live in try await client.query("""
                DELETE FROM vfx_files WHERE id = \(id) RETURNING expires_at > now()
                """, logger: logger).decode(Bool.self) { deleted = live }
            return deleted
        }
    }
}
