import ArgumentParser
import Foundation
import Logging
import Queue
import ServiceLifecycle
import VideoFXServer

/// Where the predictions live when they are shared between nodes, and how tasks are leased.
struct ClusterOptions: ParsableArguments {
    private static let defaults = QueueSettings()

    @Option(help: "PostgreSQL URL (postgres://USER:PASSWORD@HOST:PORT/DATABASE) holding the predictions, shared by every node (default: $VFX_DATABASE_URL; none: one process).")
    var database: String?

    @Option(help: "Seconds a claimed task's lease lasts without a heartbeat before another worker may take it (default \(Int(defaults.leaseSeconds))).")
    var leaseSeconds: Double?

    @Option(help: "Seconds between a worker's lease renewals (default \(Int(defaults.heartbeatSeconds))).")
    var heartbeatSeconds: Double?

    @Option(help: "Claims of one prediction before it fails (default \(defaults.maxAttempts)).")
    var maxAttempts: Int?

    @Option(help: "Most predictions waiting in the queue across the cluster; past it new ones get 409 (default \(defaults.maxQueued)).")
    var maxQueued: Int?

    @Option(help: "Days a finished prediction is kept before it is removed (default \(Int(defaults.retentionDays))).")
    var retentionDays: Double?

    @Option(help: "Largest output, in MiB, kept in PostgreSQL as a data URL when there is no --upload-url (default \(ServerConfiguration.defaultMaxStoredOutputBytes >> 20)).")
    var maxStoredOutputMib: Int?

    /// Sets what the cluster changes in a node's configuration.
    func apply(to config: inout ServerConfiguration) {
        guard url != nil else { return }
        config.maxStoredOutputBytes = maxStoredOutputMib.map { $0 << 20 } ?? ServerConfiguration.defaultMaxStoredOutputBytes
    }

    /// The database URL given, or $VFX_DATABASE_URL.
    var url: String? { database ?? ProcessInfo.processInfo.environment["VFX_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } }

    func validate() throws {
        if let v = leaseSeconds, !(v >= 1) { throw ValidationError("--lease-seconds must be at least 1") }
        if let v = heartbeatSeconds, !(v > 0) { throw ValidationError("--heartbeat-seconds must be more than 0") }
        if let v = leaseSeconds, let h = heartbeatSeconds ?? Optional(Self.defaults.heartbeatSeconds), h >= v {
            throw ValidationError("--heartbeat-seconds (\(h)) must be shorter than --lease-seconds (\(v)), or leases expire between renewals")
        }
        if let v = maxAttempts, v < 1 { throw ValidationError("--max-attempts must be at least 1") }
        if let v = maxQueued, v < 1 { throw ValidationError("--max-queued must be at least 1") }
        if let v = retentionDays, !(v >= 0) { throw ValidationError("--retention-days must be 0 or more") }
        if let v = maxStoredOutputMib, v < 1 { throw ValidationError("--max-stored-output-mib must be at least 1") }
        if let url { _ = try DatabaseURL(url) }
    }

    var settings: QueueSettings {
        var s = QueueSettings()
        if let v = leaseSeconds { s.leaseSeconds = v }
        if let v = heartbeatSeconds { s.heartbeatSeconds = v } else { s.heartbeatSeconds = min(s.heartbeatSeconds, s.leaseSeconds / 3) }
        if let v = maxAttempts { s.maxAttempts = v }
        if let v = maxQueued { s.maxQueued = v }
        if let v = retentionDays { s.retentionDays = v }
        return s
    }

    /// The node's connection to the cluster, or nil without a database URL.
    func node(connections: Int) throws -> ClusterNode? {
        guard let url else { return nil }
        return ClusterNode(url: try DatabaseURL(url), settings: settings, connections: connections)
    }
}

/// `vfx worker`: runs queued predictions only.
struct Worker: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vfx worker",
        abstract: "Run predictions queued in PostgreSQL (--database); /health-check and /metrics on --port when given.")

    @OptionGroup var options: ServerOptions
    @OptionGroup var cluster: ClusterOptions

    func validate() throws {
        try options.check()
        guard cluster.url != nil else { throw ValidationError("vfx worker needs --database (or $VFX_DATABASE_URL)") }
        if options.concurrency < 1 { throw ValidationError("--concurrency must be at least 1 for a worker") }
    }

    func run() async throws {
        options.bootstrap()
        var config = options.configuration()
        config.concurrency = options.concurrency
        cluster.apply(to: &config)
        guard let node = try cluster.node(connections: options.concurrency + 4) else { return }
        let service = PredictionService(configuration: config, cluster: node)
        var services: [any Service] = [ClusterService(service: service)]
        var logger = Logger(label: "vfx.worker")
        logger.logLevel = .info
        if options.port != nil {
            services.append(buildWorkerApplication(configuration: config, service: service))
        }
        services.append(PredictionDrain(service: service))
        let group = ServiceGroup(configuration: .init(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        Task { await service.runSetup() }
        try await group.run()
        await service.cancelAll()
    }
}

/// `vfx db migrate`: brings the database's schema up to date and exits.
struct Database: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vfx db", abstract: "Manage the cluster's database.",
                                                    subcommands: [Migrate.self])

    struct Migrate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Apply the schema's migrations (every node also does at start).")
        @OptionGroup var cluster: ClusterOptions

        func run() async throws {
            guard let node = try cluster.node(connections: 2) else { throw ValidationError("vfx db migrate needs --database (or $VFX_DATABASE_URL)") }
            let applied = try await node.migrate()
            print(applied.isEmpty ? "schema is current (version \(Migrations.latest))" : "applied migrations \(applied.map(String.init).joined(separator: ", "))")
        }
    }
}

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

/// The cluster's background work as a service of the group: cancelled at shutdown, after the drain.
struct ClusterService: Service {
    let service: PredictionService
    func run() async throws {
        await withTaskCancellationHandler {
            // A database that refuses this node for good (no such database, a role it does not take)
            // ends the process with its message; one that is away is waited for.
            let work = Task {
                await service.runCluster { error in
                    FileHandle.standardError.write(Data("error: \(error)\n".utf8))
                    exit(1)
                }
            }
            try? await gracefulShutdown()
            // The drain (a later service) stops first; then the database connection goes.
            work.cancel()
            await work.value
        } onCancel: {}
    }
}
