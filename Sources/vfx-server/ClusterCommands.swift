import ArgumentParser
import Foundation
import Jobs
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

    @Option(help: "A prediction whose video runs longer than this many seconds is split into chunk tasks that any workers encode, then stitched frame-exact (default \(Int(SplitSetting.autoAboveSeconds)); 0: never split).")
    var splitAbove: Double?

    @Option(help: "The chunk length, in seconds, of a split prediction (default \(Int(SplitSetting.autoChunkSeconds))); cuts move to the nearest keyframe.")
    var splitChunkSeconds: Double?

    /// Sets what the cluster changes in a node's configuration.
    func apply(to config: inout ServerConfiguration) {
        guard url != nil else { return }
        config.maxStoredOutputBytes = maxStoredOutputMib.map { $0 << 20 } ?? ServerConfiguration.defaultMaxStoredOutputBytes
        if let v = splitAbove { config.splitAboveSeconds = v }
        if let v = splitChunkSeconds { config.splitChunkSeconds = v }
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
        if let v = splitAbove, !(v >= 0 && v.isFinite) { throw ValidationError("--split-above must be 0 (never split) or a number of seconds") }
        if let v = splitChunkSeconds, !(v >= 1 && v.isFinite) { throw ValidationError("--split-chunk-seconds must be at least 1") }
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
