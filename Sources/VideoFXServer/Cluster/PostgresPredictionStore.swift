import ErrorTaxonomy
import Foundation
import Queue

/// Predictions in PostgreSQL, shared by every node: inserting one queues its task (see ``TaskQueue``).
/// Workers write through their leases, never through ``update(_:)``.
public final class PostgresPredictionStore: PredictionStore {
    let queue: TaskQueue

    init(queue: TaskQueue) { self.queue = queue }

    /// The queue holds ``QueueSettings/maxQueued`` tasks already.
    struct QueueFull: Error, CategorizedError, CustomStringConvertible {
        let limit: Int
        var category: ErrorCategory { .unavailable }
        var description: String { "At capacity - \(limit) predictions already wait in the queue (--max-queued)" }
    }

    /// Stores a prediction without its job; the service submits through ``submit(_:job:)``.
    public func insert(_ prediction: Prediction) async throws -> Prediction? {
        try await submit(prediction, job: nil)
    }

    /// Stores a prediction and queues its job, or returns the one already stored under its id.
    func submit(_ prediction: Prediction, job: PredictionJob?) async throws -> Prediction? {
        let encoder = JSONEncoder.cog
        let p = String(decoding: try encoder.encode(prediction), as: UTF8.self)
        let j = job.map { String(decoding: (try? JSONEncoder().encode($0)) ?? Data("{}".utf8), as: UTF8.self) } ?? "{}"
        // A `videos` prediction fans out: a task per item, which any workers take.
        let items = job.flatMap { $0.isBatch ? $0.recipes.count : nil }
        switch try await queue.submit(id: prediction.id, status: prediction.status.rawValue, prediction: p, job: j, items: items) {
        case .created: return nil
        case .exists(let row): return try Self.decode(row.prediction)
        case .full: throw QueueFull(limit: queue.settings.maxQueued)
        }
    }

    public func prediction(id: String) async throws -> Prediction? {
        guard let row = try await queue.prediction(id: id) else { return nil }
        return try Self.decode(row.prediction)
    }

    /// Not used by a cluster node: a prediction's state is written by the worker holding its lease.
    public func update(_ prediction: Prediction) async throws {}

    static func decode(_ json: String) throws -> Prediction { try JSONDecoder().decode(Prediction.self, from: Data(json.utf8)) }
    static func encode(_ p: Prediction) -> String { String(decoding: (try? JSONEncoder.cog.encode(p)) ?? Data("{}".utf8), as: UTF8.self) }
}
