import Foundation
import Queue

// A cluster node's side of the service: predictions are submitted to the queue, any worker runs them,
// and this node waits, streams and cancels through the database (woken by notifications, polling as
// the backstop).
extension PredictionService {
    /// Submits a prediction to the queue, or answers the one already stored under its id.
    func clusterCreate(_ cluster: ClusterNode, _ request: PredictionRequest, input: [String: JSONValue], id: String?) async throws -> Created {
        var p = Prediction(id: id ?? Self.newID(), input: input.mapValues(Self.elided))
        p.created_at = request.createdAt ?? Prediction.timestamp()
        p.webhook = request.webhook
        p.webhook_events_filter = request.webhookEventsFilter
        p.output_file_prefix = request.outputFilePrefix
        let job = try PredictionJob(input: input, given: Set(request.input.keys), outputPrefix: p.output_file_prefix)
        let entry = try Entry(p, input: [:])
        if let stored = try await cluster.store.submit(p, job: job) {
            return Created(entry: try Entry(stored, input: [:]), snapshot: stored, existing: true)
        }
        return Created(entry: entry, snapshot: p, existing: false)
    }

    /// Waits for a prediction stored in the database to end.
    func clusterWait(_ cluster: ClusterNode, id: String) async -> Prediction? {
        let notices = cluster.listener.subscribe()
        let (wake, wakeUp) = AsyncStream<Void>.makeStream(bufferingPolicy: .bufferingNewest(1))
        // Woken by its notification; the poll catches one the listener missed.
        let forward = Task { for await n in notices where n == .prediction(id) || n == .resync { wakeUp.yield() } }
        let ticker = Task { while !Task.isCancelled { try? await Task.sleep(for: .seconds(2)); wakeUp.yield() } }
        defer { forward.cancel(); ticker.cancel() }
        var iterator = wake.makeAsyncIterator()
        while !Task.isCancelled {
            if let p = try? await cluster.store.prediction(id: id), p.status.isTerminal { return p }
            guard await iterator.next() != nil else { break }
        }
        return try? await cluster.store.prediction(id: id)
    }

    /// A stored prediction's events as this node sees them change: start, each new log line, output, completed.
    func clusterEvents(_ cluster: ClusterNode, id: String, current: Prediction) -> AsyncStream<Event> {
        AsyncStream { continuation in
            let task = Task {
                var last = current
                if last.status == .processing { continuation.yield(.start(last)) }
                while !Task.isCancelled {
                    try? await Task.sleep(for: .milliseconds(250))
                    guard let p = try? await cluster.store.prediction(id: id) else { continue }
                    if last.status == .starting && p.status != .starting { continuation.yield(.start(p)) }
                    if p.logs.count > last.logs.count, p.logs.hasPrefix(last.logs) {
                        for line in p.logs.dropFirst(last.logs.count).split(separator: "\n") { continuation.yield(.log(String(line))) }
                    }
                    last = p
                    if p.status.isTerminal {
                        if p.status == .succeeded { continuation.yield(.output(p)) }
                        continuation.yield(.completed(p))
                        break
                    }
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
