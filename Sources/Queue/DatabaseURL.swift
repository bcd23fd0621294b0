import Foundation
import Logging
import NIOSSL
import PostgresNIO

/// A PostgreSQL URL (`postgres://USER[:PASSWORD]@HOST[:PORT]/DATABASE[?sslmode=disable|prefer|require]`),
/// checked once and turned into the client's configuration. Messages show it without its password.
public struct DatabaseURL: Sendable, CustomStringConvertible {
    public let host: String
    public let port: Int
    public let user: String
    let password: String?
    public let database: String
    public let sslMode: String

    public init(_ text: String) throws {
        guard let c = URLComponents(string: text), let scheme = c.scheme, ["postgres", "postgresql"].contains(scheme.lowercased()) else {
            throw QueueError.badURL(Self.redact(text), reason: "it must look like postgres://USER:PASSWORD@HOST:PORT/DATABASE")
        }
        guard let host = c.host, !host.isEmpty else { throw QueueError.badURL(Self.redact(text), reason: "it names no host") }
        guard let user = c.user, !user.isEmpty else { throw QueueError.badURL(Self.redact(text), reason: "it names no user") }
        let database = String(c.path.drop { $0 == "/" })
        guard !database.isEmpty, !database.contains("/") else { throw QueueError.badURL(Self.redact(text), reason: "it names no database") }
        if let p = c.port, !(1...65535).contains(p) { throw QueueError.badURL(Self.redact(text), reason: "port \(p) is out of range") }
        let mode = c.queryItems?.first { $0.name == "sslmode" }?.value ?? (["127.0.0.1", "localhost", "::1"].contains(host) ? "disable" : "prefer")
        guard ["disable", "prefer", "require"].contains(mode) else {
            throw QueueError.badURL(Self.redact(text), reason: "sslmode must be disable, prefer or require, not '\(mode)'")
        }
        self.host = host; port = c.port ?? 5432; self.user = user
        password = c.password?.removingPercentEncoding ?? c.password
        self.database = database.removingPercentEncoding ?? database
        sslMode = mode
    }

    /// The URL as messages show it: the password replaced.
    public var description: String {
        "postgres://\(user)\(password == nil ? "" : ":***")@\(host.contains(":") ? "[\(host)]" : host):\(port)/\(database)"
    }

    static func redact(_ text: String) -> String {
        guard var c = URLComponents(string: text), c.password != nil else { return String(text.prefix(200)) }
        c.password = "***"
        return c.string ?? "(the database URL)"
    }

    /// One connection's configuration (a startup check or a readiness probe), given up after `timeout` seconds.
    public func connectionConfiguration(timeout: Int64 = 5) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "require": tls = .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        default: tls = .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var config = PostgresConnection.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
        config.options.connectTimeout = .seconds(timeout)
        return config
    }

    /// Opens one connection and runs `SELECT 1`: nil when the database answers, else why not. The
    /// pool retries a failed connection quietly forever; this says at once what the server said.
    public func probe(timeout: Int64 = 5, logger: Logger) async -> (any Error)? {
        do {
            let connection = try await PostgresConnection.connect(configuration: try connectionConfiguration(timeout: timeout), id: 0, logger: logger)
            defer { Task { try? await connection.close() } }
            try await connection.query("SELECT 1", logger: logger)
            return nil
        } catch { return error }
    }

    /// The client configuration: at most `connections` pooled connections.
    public func configuration(connections: Int) -> PostgresClient.Configuration {
        let tls: PostgresClient.Configuration.TLS
        switch sslMode {
        case "disable": tls = .disable
        case "require": tls = .require(.makeClientConfiguration())
        default: tls = .prefer(.makeClientConfiguration())
        }
        var config = PostgresClient.Configuration(host: host, port: port, username: user, password: password, database: database, tls: tls)
        config.options.maximumConnections = max(2, connections)
        config.options.connectTimeout = .seconds(5)
        return config
    }
}
