import ArgumentParser
import Foundation
import Queue

/// `vfx queue ...`: what the queue holds, and an operator's hand on it. Each takes --json.
struct QueueCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vfx queue", abstract: "Inspect and manage the predictions queued in PostgreSQL.",
        subcommands: [Stats.self, List.self, Inspect.self, Retry.self, Cancel.self, Prune.self])

    /// Runs `body` with the database's queue (connected for the command's length), printing what it returns.
    static func withQueue(_ cluster: ClusterOptions, _ body: @Sendable (TaskQueue) async throws -> Void) async throws {
        guard let node = try cluster.node(connections: 2) else { throw ValidationError("needs --database (or $VFX_DATABASE_URL)") }
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await node.client.run() }
            defer { group.cancelAll() }
            if let error = await node.url.probe(logger: node.queue.logger) {
                throw QueueError.database(QueueError.message(of: error), operation: "connecting to \(node.url)")
            }
            try await body(node.queue)
        }
    }

    static func printJSON<T: Encodable>(_ value: T) {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.keyEncodingStrategy = .convertToSnakeCase
        print(String(decoding: (try? e.encode(value)) ?? Data(), as: UTF8.self))
    }

    struct Stats: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Tasks by state, the oldest queued one's wait, webhooks waiting.")
        @OptionGroup var cluster: ClusterOptions
        @Flag var json = false
        func run() async throws {
            let json = self.json
            try await QueueCommand.withQueue(cluster) { q in
                let s = try await q.stats()
                if json { QueueCommand.printJSON(s); return }
                for state in ["queued", "running", "succeeded", "failed", "canceled"] { print("\(state): \(s.tasks[state] ?? 0)") }
                print("oldest queued: " + (s.oldestQueuedSeconds.map { String(format: "%.1f s", $0) } ?? "none"))
                print("webhooks waiting: \(s.webhooksWaiting)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "The newest predictions.")
        @OptionGroup var cluster: ClusterOptions
        @Option(help: "Only those with this status (starting, processing, succeeded, failed, canceled).") var status: String?
        @Option(help: "At most this many.") var limit: Int = 50
        @Flag var json = false
        func run() async throws {
            let (json, status, limit) = (self.json, self.status, self.limit)
            try await QueueCommand.withQueue(cluster) { q in
                let rows = try await q.list(status: status, limit: max(1, limit))
                if json { QueueCommand.printJSON(rows); return }
                for r in rows { print("\(r.id)  \(r.status)  attempts \(r.attempts)  created \(r.createdAt)") }
            }
        }
    }

    struct Inspect: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "A prediction's tasks: attempts, workers, errors.")
        @OptionGroup var cluster: ClusterOptions
        @Argument(help: "The prediction id.") var id: String
        @Flag var json = false
        func run() async throws {
            let (json, id) = (self.json, self.id)
            try await QueueCommand.withQueue(cluster) { q in
                guard let (status, tasks) = try await q.inspect(id: id) else { throw ValidationError("no prediction \(id) in the queue") }
                if json { QueueCommand.printJSON(["id": AnyCodable.string(id), "status": .string(status), "tasks": .tasks(tasks)]); return }
                print("\(id): \(status)")
                for t in tasks {
                    print("  task \(t.task): \(t.state), attempt \(t.attempts) of \(t.maxAttempts)" + (t.worker.map { ", worker \($0)" } ?? "")
                          + (t.lastError.map { ", last error: \($0)" } ?? ""))
                }
            }
        }
    }

    struct Retry: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Queue a failed or cancelled prediction again.")
        @OptionGroup var cluster: ClusterOptions
        @Argument(help: "The prediction id.") var id: String
        @Flag var json = false
        func run() async throws {
            let (json, id) = (self.json, self.id)
            try await QueueCommand.withQueue(cluster) { q in
                guard try await q.retry(id: id) else { throw ValidationError("\(id) is not a failed or cancelled prediction in the queue") }
                if json { QueueCommand.printJSON(["id": id, "status": "starting"]) } else { print("\(id): queued again") }
            }
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a prediction (queued: at once; running: its worker stops it).")
        @OptionGroup var cluster: ClusterOptions
        @Argument(help: "The prediction id.") var id: String
        @Flag var json = false
        func run() async throws {
            let (json, id) = (self.json, self.id)
            try await QueueCommand.withQueue(cluster) { q in
                let result = try await q.requestCancel(id: id)
                if result == .unknown { throw ValidationError("no prediction \(id) in the queue") }
                let said: String
                switch result {
                case .cancelledQueued: said = "canceled"
                case .signalled: said = "cancel requested"
                default: said = "already finished"
                }
                if json { QueueCommand.printJSON(["id": id, "result": said]) } else { print("\(id): \(said)") }
            }
        }
    }

    struct Prune: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Remove finished predictions older than some days (0: every finished one).")
        @OptionGroup var cluster: ClusterOptions
        @Option(help: "Days since they finished.") var olderThan: Double
        @Flag var json = false
        func validate() throws { if !(olderThan >= 0) { throw ValidationError("--older-than must be 0 or more days") } }
        func run() async throws {
            let (json, days) = (self.json, olderThan)
            try await QueueCommand.withQueue(cluster) { q in
                let n = try await q.prune(olderThanDays: days)
                if json { QueueCommand.printJSON(["removed": n]) } else { print("removed \(n) finished prediction(s)") }
            }
        }
    }
}

/// `vfx workers`: each worker with its heartbeat's age and the predictions it runs.
struct WorkersCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vfx workers", abstract: "List the cluster's workers.")
    @OptionGroup var cluster: ClusterOptions
    @Flag var json = false
    func run() async throws {
        let json = self.json
        try await QueueCommand.withQueue(cluster) { q in
            let rows = try await q.workers()
            if json { QueueCommand.printJSON(rows); return }
            for w in rows {
                print("\(w.id)  pid \(w.pid)  slots \(w.concurrency)  heartbeat \(String(format: "%.1f", w.heartbeatAgeSeconds)) s ago  running: "
                      + (w.running.isEmpty ? "nothing" : w.running.joined(separator: ", ")))
            }
        }
    }
}

/// A small JSON value for `inspect`'s output.
enum AnyCodable: Encodable {
    case string(String), tasks([TaskQueue.TaskRow])
    func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        switch self {
        case .string(let s): try c.encode(s)
        case .tasks(let t): try c.encode(t)
        }
    }
}

