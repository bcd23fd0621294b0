import Hummingbird
import Queue

/// `GET /queue` (behind the token like every data route): the cluster's tasks by state, the oldest queued
/// task's wait, webhooks waiting, and each worker with its heartbeat age and the predictions it runs, as
/// `vfx queue stats` and `vfx workers` tell them. A server without `--database` has no queue: 404.
struct QueueRoutes: Sendable {
    let cluster: ClusterNode?

    struct View: Encodable {
        struct Worker: Encodable {
            var id: String, host: String, pid: Int, concurrency: Int
            var heartbeat_age_seconds: Double
            var running: [String]
        }
        var tasks: [String: Int]
        var oldest_queued_seconds: Double?
        var webhooks_waiting: Int
        var workers: [Worker]
    }

    func register(on router: Router<ServerRequestContext>) {
        router.get("/queue") { _, _ in
            guard let cluster else {
                return json(.notFound, JSONValue.object(["detail": "this server is not a cluster node (it runs without --database): it has no queue"]))
            }
            do {
                let stats = try await cluster.queue.stats()
                let workers = try await cluster.queue.workers()
                return json(.ok, View(tasks: stats.tasks, oldest_queued_seconds: stats.oldestQueuedSeconds, webhooks_waiting: stats.webhooksWaiting,
                                      workers: workers.map { View.Worker(id: $0.id, host: $0.host, pid: $0.pid, concurrency: $0.concurrency,
                                                                        heartbeat_age_seconds: $0.heartbeatAgeSeconds, running: $0.running) }))
            } catch {
                return json(.serviceUnavailable, JSONValue.object(["detail": .string("the queue cannot be read now: \(error)")]))
            }
        }
    }
}
