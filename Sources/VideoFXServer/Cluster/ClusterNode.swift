import Foundation
import Logging
import PostgresNIO
import Queue
import ServiceLifecycle
import Synchronization

/// A node's part in a cluster: the database client, the schema, the queue and its listener, and the
/// worker that runs tasks here (none on an API-only node).
public final class ClusterNode: Sendable {
    public let url: DatabaseURL
    public let client: PostgresClient
    public let queue: TaskQueue
    public let listener: QueueListener
    let store: PostgresPredictionStore
    let logger = Logger(label: "vfx.cluster")

    /// A client for `url` (not yet connected: ``run()`` connects, migrates and listens).
    public init(url: DatabaseURL, settings: QueueSettings, connections: Int = 8) {
        self.url = url
        var logger = Logger(label: "vfx.database")
        // The pool logs every failed connection attempt at info: the node reports the database's state itself.
        logger.logLevel = .error
        client = PostgresClient(configuration: url.configuration(connections: connections), backgroundLogger: logger)
        queue = TaskQueue(client: client, settings: settings, logger: logger)
        listener = QueueListener(client: client, logger: logger)
        store = PostgresPredictionStore(queue: queue)
        ready = ReadyFlag("connecting to the database \(url)")
    }

    /// Connects, applies the migrations once and disconnects; the versions applied.
    public func migrate() async throws -> [Int] {
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await self.client.run() }
            defer { group.cancelAll() }
            return try await Migrations.apply(client, logger: logger)
        }
    }

    /// Whether the schema is in place and the database answers (what `/health-check` reports).
    let ready: ReadyFlag

    /// Runs the client, applies the migrations (retrying with backoff while the database is away) and
    /// listens, until cancelled.
    /// A refusal for good (no such database, a role it does not accept) is handed to `onRefused` instead.
    public func run(onReady: @escaping @Sendable () async -> Void = {},
                    onRefused: @escaping @Sendable (QueueError) async -> Void = { _ in }) async {
        await withDiscardingTaskGroup { group in
            group.addTask { await self.client.run() }
            var delay = 0.5
            while !Task.isCancelled {
                do {
                    // One connection first: the pool would wait on a refused database without saying why.
                    if let error = await url.probe(logger: logger) {
                        throw QueueError.isRefusal(error) ? QueueError.refused(QueueError.message(of: error), operation: "connecting")
                            : QueueError.database(QueueError.message(of: error), operation: "connecting")
                    }
                    try await Migrations.apply(client, logger: logger)
                    break
                } catch let error as QueueError where error.isPermanent {
                    ready.set(false, reason: "the database \(url) refused this node: \(error)")
                    await onRefused(error)
                    group.cancelAll()
                    return
                } catch {
                    ready.set(false, reason: "the database \(url) is not usable: \(error)")
                    logger.warning("the database \(url) is not ready: \(error); trying again in \(delay)s")
                    try? await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
                    delay = min(10, delay * 2)
                }
            }
            guard !Task.isCancelled else { group.cancelAll(); return }
            group.addTask { await self.listener.run() }
            group.addTask {
                // Readiness follows the database: a ping every two seconds.
                while !Task.isCancelled {
                    let error = await self.url.probe(timeout: 2, logger: self.logger)
                    self.ready.set(error == nil, reason: error.map { "the database \(self.url) does not answer: \(QueueError.message(of: $0))" })
                    try? await Task.sleep(for: .seconds(2))
                }
            }
            await onReady()
        }
    }
}

/// Whether the database is usable now, and why not.
final class ReadyFlag: Sendable {
    private let state = Mutex<(Bool, String?)>((false, "connecting to the database"))
    init(_ reason: String) { state.withLock { $0 = (false, reason) } }
    func set(_ up: Bool, reason: String?) { state.withLock { $0 = (up, reason) } }
    var isReady: Bool { state.withLock { $0.0 } }
    var reason: String? { state.withLock { $0.1 } }
}
