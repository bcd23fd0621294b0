import Logging
import PostgresNIO
import Synchronization

/// What a node hears on the queue's channel.
public enum QueueNotice: Sendable, Equatable {
    /// A task became runnable (submitted, retried, rescued, released).
    case task
    /// A prediction's stored state changed.
    case prediction(String)
    /// A prediction was asked to stop.
    case cancel(String)
    /// The listener (re)connected: notifications sent while it was away are lost, so look again at everything.
    case resync

    init?(payload: String) {
        if payload == "task" { self = .task; return }
        if payload.hasPrefix("prediction:") { self = .prediction(String(payload.dropFirst(11))); return }
        if payload.hasPrefix("cancel:") { self = .cancel(String(payload.dropFirst(7))); return }
        return nil
    }
}

/// Listens on the queue's channel on one connection, reconnecting with backoff when it drops, and
/// hands every notice to each subscriber. Polling stays the backstop: a notice only wakes sooner.
public final class QueueListener: Sendable {
    private let client: PostgresClient
    private let logger: Logger
    private let subscribers = Mutex<[Int: AsyncStream<QueueNotice>.Continuation]>([:])
    private let nextID = Mutex(0)
    /// How often the connection was lost and made again.
    public let reconnects = Mutex(0)
    /// Whether the listener holds a connection now.
    public let connected = Mutex(false)

    public init(client: PostgresClient, logger: Logger) { self.client = client; self.logger = logger }

    /// Notices from now on, until the stream is dropped.
    public func subscribe() -> AsyncStream<QueueNotice> {
        let (stream, continuation) = AsyncStream<QueueNotice>.makeStream(bufferingPolicy: .bufferingNewest(256))
        let id = nextID.withLock { $0 += 1; return $0 }
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in _ = self?.subscribers.withLock { $0.removeValue(forKey: id) } }
        return stream
    }

    private func broadcast(_ notice: QueueNotice) {
        for c in subscribers.withLock({ Array($0.values) }) { c.yield(notice) }
    }

    /// Listens until cancelled.
    public func run() async {
        var delay = 0.25
        var first = true
        while !Task.isCancelled {
            do {
                try await client.withConnection { connection in
                    try await connection.listen(on: TaskQueue.channel) { notifications in
                        connected.withLock { $0 = true }
                        if !first { reconnects.withLock { $0 += 1 } }
                        first = false
                        delay = 0.25
                        broadcast(.resync)
                        for try await n in notifications {
                            if let notice = QueueNotice(payload: n.payload) { broadcast(notice) }
                        }
                    }
                }
            } catch {
                if Task.isCancelled { break }
                logger.warning("queue listener lost its connection: \(QueueError.message(of: error)); listening again in \(delay)s")
            }
            connected.withLock { $0 = false }
            if Task.isCancelled { break }
            try? await Task.sleep(for: .milliseconds(Int64(delay * 1000)))
            delay = min(5, delay * 2)
        }
        for c in subscribers.withLock({ Array($0.values) }) { c.finish() }
    }
}
