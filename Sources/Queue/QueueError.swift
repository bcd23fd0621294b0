import ErrorTaxonomy
import PostgresNIO

/// What goes wrong between a node and its database.
public enum QueueError: Error, CategorizedError, CustomStringConvertible {
    /// The URL given with `--database` (or `VFX_DATABASE_URL`) cannot be used.
    case badURL(String, reason: String)
    /// The database refused or could not be reached; `message` is the server's own words when it sent any.
    case database(String, operation: String)
    /// The database refused this node for good (no such database, a role or password it does not accept).
    case refused(String, operation: String)
    /// The schema in the database is newer than this binary knows.
    case schemaTooNew(found: Int, known: Int)

    /// Whether waiting cannot mend it (a bad URL, a refusal, a schema from a newer vfx).
    public var isPermanent: Bool {
        switch self {
        case .badURL, .refused, .schemaTooNew: return true
        case .database: return false
        }
    }

    public var category: ErrorCategory {
        switch self {
        case .badURL, .schemaTooNew, .refused: return .invalidInput
        case .database: return .transient
        }
    }

    public var description: String {
        switch self {
        case let .badURL(url, reason): return "the database URL \(url) cannot be used: \(reason)"
        case let .database(message, operation): return "the database failed while \(operation): \(message)"
        case let .refused(message, operation): return "the database refused this node while \(operation): \(message)"
        case let .schemaTooNew(found, known):
            return "the database's schema is at version \(found), newer than this vfx knows (\(known)); upgrade vfx on this node"
        }
    }

    /// The server's message of a PostgreSQL error (`PSQLError` prints only a generic line).
    public static func message(of error: any Error) -> String {
        if let t = error as? PostgresTransactionError {
            if let inner = t.closureError ?? t.beginError ?? t.commitError { return message(of: inner) }
            if let rollback = t.rollbackError { return message(of: rollback) }
        }
        if let e = error as? PSQLError {
            if let m = e.serverInfo?[.message] { return m }
            return "\(e.code)"
        }
        return "\(error)"
    }

    /// Whether an error is the database refusing this node for good (no such database, a role or
    /// password it does not accept), as opposed to one that waiting can mend (down, starting, network).
    public static func isRefusal(_ error: any Error) -> Bool {
        if let t = error as? PostgresTransactionError, let inner = t.beginError ?? t.closureError { return isRefusal(inner) }
        guard let e = error as? PSQLError, let state = e.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("28") || state.hasPrefix("3D")
    }

    /// Runs `body`, turning a PostgreSQL error into a ``QueueError/database(_:operation:)`` naming `operation`.
    static func wrap<T>(_ operation: String, _ body: () async throws -> T) async throws -> T {
        do { return try await body() } catch let e as QueueError { throw e } catch is CancellationError {
            throw CancellationError()
        } catch where isRefusal(error) {
            throw QueueError.refused(message(of: error), operation: operation)
        } catch {
            throw QueueError.database(message(of: error), operation: operation)
        }
    }
}
