import ArgumentParser
import Foundation
import Jobs
import Logging
import MediaIO
import Pipeline
import ServiceLifecycle
import VideoFXServer

// `vfx serve` execs this binary. It is separate so that `vfx process` does not load Foundation and the
// server stack: about 9 MiB less resident memory per job.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vfx serve", abstract: "Serve the Cog prediction API (POST /predictions) over the engine.")

    @OptionGroup var options: ServerOptions
    @OptionGroup var cluster: ClusterOptions

    func validate() throws {
        try options.check()
        if options.concurrency < (cluster.database == nil ? 1 : 0) {
            throw ValidationError("--concurrency must be at least 1 (0, an API node that runs nothing, needs --database)")
        }
    }

    func run() async throws {
        options.bootstrap()
        var config = options.configuration()
        config.concurrency = options.concurrency
        cluster.apply(to: &config)
        let node = try cluster.node(connections: options.concurrency + 8)
        let service = PredictionService(configuration: config, cluster: node)
        let shutdown = ShutdownController()
        let app = buildApplication(configuration: config, service: service, shutdown: shutdown)
        // Services stop in reverse order: the drain first (new predictions refused, running ones given
        // the grace period, then cancelled), then the HTTP server, then the database.
        let drain = PredictionDrain(service: service)
        let group = ServiceGroup(configuration: .init(services: [ClusterService(service: service), app, drain],
                                                      gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger))
        await shutdown.setAction { await group.triggerGracefulShutdown() }
        Task { await service.runSetup() }
        do {
            try await group.run()
        } catch {
            await service.cancelAll()
            throw error
        }
        await service.cancelAll()
    }
}

/// The options `vfx serve` and `vfx worker` share: the engine, the outbound policy, outputs, limits.
struct ServerOptions: ParsableArguments {
    @Option(help: "Address to listen on.")
    var host: String = "0.0.0.0"

    @Option(help: "Port (default: $PORT, else 5000).")
    var port: Int?

    @Option(help: "Predictions that may run at once; more get 409 (with --database: tasks this node runs at once, 0 for none; more wait in the queue).")
    var concurrency: Int = 1

    @Option(help: "Codec threads per job (0: FFmpeg's choice; 1 per job suits several jobs per machine).")
    var threads: Int = 0

    @Option(help: "PUT finished files to this URL plus the file name, and return that URL instead of a data URL.")
    var uploadURL: String?

    @Option(help: "Require 'Authorization: Bearer TOKEN' on every endpoint but /health-check (default: $VFX_AUTH_TOKEN).")
    var authToken: String?

    @Flag(help: "Let POST /shutdown stop the server (off: anyone who reaches the port could).")
    var enableShutdown = false

    @Flag(name: .customLong("allow-private-urls"), help: "Allow input, webhook and upload URLs on loopback and private networks (link-local and metadata addresses stay refused).")
    var allowPrivateURLs = false

    @Option(help: "Hosts that may receive $WEBHOOK_AUTH_TOKEN with webhooks (comma-separated; none by default).")
    var webhookTokenHosts: String = ""

    // Limits and timeouts: unset keeps ServerConfiguration's default (named in each help line), so
    // every default lives there alone.
    private static let defaults = ServerConfiguration()

    @Option(help: "Largest input video, in MiB (default \(defaults.maxInputBytes >> 20)).")
    var maxInputMib: Int?

    @Option(help: "Largest output video, in MiB (default \(defaults.maxOutputBytes >> 20)).")
    var maxOutputMib: Int?

    @Option(help: "Seconds a download may take in all (default \(Int(defaults.downloadTimeout))).")
    var downloadTimeout: Double?

    @Option(help: "Downloads that may run at once (default \(defaults.maxConcurrentDownloads)).")
    var maxDownloads: Int?

    @Option(help: "Most videos in one prediction's videos (default \(defaults.maxBatchItems)).")
    var maxBatchItems: Int?

    @Option(help: "Most MiB all of one prediction's videos may add up to (default \(defaults.maxBatchInputBytes >> 20)).")
    var maxBatchInputMib: Int?

    @Option(help: "Largest request body, in MiB; data: URL inputs travel in it (default \(defaults.maxBodyBytes >> 20)).")
    var maxBodyMib: Int?

    @Flag(help: "Serve no playground page at /playground.")
    var noPlayground = false

    @Option(help: "Minutes an upload to /files is kept (default \(Int(defaults.fileTTL / 60))).")
    var fileTtlMinutes: Int?

    @Option(help: "Most MiB all uploads to /files may hold together (default \(defaults.maxFilesBytes >> 20)).")
    var maxFilesMib: Int?

    @Option(help: "Most JSON values a request body may hold (default \(defaults.maxJSONElements)).")
    var maxJsonElements: Int?

    @Option(help: "Widest video accepted, in pixels (default \(defaults.mediaLimits.maxWidth ?? 0)).")
    var maxWidth: Int?
    @Option(help: "Tallest video accepted, in pixels (default \(defaults.mediaLimits.maxHeight ?? 0)).")
    var maxHeight: Int?
    @Option(help: "Most pixels in one frame (default \(defaults.mediaLimits.maxPixels ?? 0)).")
    var maxPixels: Int?
    @Option(help: "Most frames in one video (default \(defaults.mediaLimits.maxFrames ?? 0)).")
    var maxFrames: Int?
    @Option(help: "Longest video, in seconds (default \(Int(defaults.mediaLimits.maxDuration ?? 0))).")
    var maxDuration: Double?

    @Option(help: "Seconds a client has to send its request headers (default \(Int(defaults.headerTimeout))).")
    var headerTimeout: Double?

    @Option(help: "Seconds shutdown lets running predictions and webhooks finish before cancelling them (default \(Int(defaults.shutdownGrace))).")
    var shutdownGrace: Double?

    @Option(help: "Resident memory one job may use, in MiB; past it the job alone fails (default \(ProcessLimits.defaultMemoryBytes >> 20), at least \(ProcessLimits.minimumMemoryBytes >> 20)).")
    var jobMemoryMib: Int?

    @Option(help: "Seconds a job may go without finishing a frame before it is stopped (default \(Int(ProcessLimits().stallSeconds))).")
    var jobStallSeconds: Double?

    @Option(help: "Log format: text, or json (one object per line, with prediction_id on a prediction's lines).")
    var logFormat: String = "text"

    func check() throws {
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format must be text or json, not '\(logFormat)'") }
        if let m = jobMemoryMib, m << 20 < ProcessLimits.minimumMemoryBytes {
            throw ValidationError("--job-memory-mib \(m) is below the minimum of \(ProcessLimits.minimumMemoryBytes >> 20) MiB (a job's engine alone needs about 60)")
        }
    }

    /// FFmpeg's log level and the log format, once per process.
    func bootstrap() {
        FFmpegLog.configure(verbose: false)
        if logFormat == "json" { LoggingSystem.bootstrap { JSONLogHandler(label: $0) } }
    }

    /// The server's configuration from these options (each unset one keeps ServerConfiguration's default).
    func configuration() -> ServerConfiguration {
        let env = ProcessInfo.processInfo.environment
        var config = ServerConfiguration()
        config.host = host
        config.port = port ?? env["PORT"].flatMap(Int.init) ?? config.port
        config.concurrency = max(1, concurrency)
        config.uploadURL = uploadURL
        config.threads = max(0, threads)
        config.authToken = authToken ?? env["VFX_AUTH_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        config.enableShutdown = enableShutdown
        config.allowPrivateURLs = allowPrivateURLs
        config.webhookToken = env["WEBHOOK_AUTH_TOKEN"]
        config.webhookTokenHosts = Set(webhookTokenHosts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        if let v = maxInputMib { config.maxInputBytes = v << 20 }
        if let v = maxOutputMib { config.maxOutputBytes = v << 20 }
        if let v = downloadTimeout { config.downloadTimeout = v }
        if let v = maxDownloads { config.maxConcurrentDownloads = max(1, v) }
        if let v = maxBatchItems { config.maxBatchItems = max(1, v) }
        if let v = maxBatchInputMib { config.maxBatchInputBytes = v << 20 }
        if let v = maxBodyMib { config.maxBodyBytes = v << 20 }
        if let v = maxJsonElements { config.maxJSONElements = v }
        config.playground = !noPlayground
        if let v = fileTtlMinutes { config.fileTTL = Double(max(1, v)) * 60 }
        if let v = maxFilesMib { config.maxFilesBytes = max(0, v) << 20 }
        if let v = maxWidth { config.mediaLimits.maxWidth = v }
        if let v = maxHeight { config.mediaLimits.maxHeight = v }
        if let v = maxPixels { config.mediaLimits.maxPixels = v }
        if let v = maxFrames { config.mediaLimits.maxFrames = v }
        if let v = maxDuration { config.mediaLimits.maxDuration = v }
        if let v = headerTimeout { config.headerTimeout = v }
        if let v = shutdownGrace { config.shutdownGrace = v }
        if let v = jobMemoryMib { config.jobLimits.memoryBytes = v << 20 }
        if let v = jobStallSeconds { config.jobLimits.stallSeconds = max(1, v) }
        // Every job runs in a child process of this same binary (`run-job`).
        config.jobExecutable = Serve.ownExecutable()
        return config
    }
}

extension Serve {
    /// This binary's own path, for its job processes.
    static func ownExecutable() -> String {
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        return n > 0 ? String(decoding: buffer[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
    }
}

/// Waits for shutdown, then drains the prediction service within its configured grace period.
struct PredictionDrain: Service {
    let service: PredictionService

    func run() async throws {
        try? await gracefulShutdown()
        await service.drain(grace: service.configuration.shutdownGrace)
    }
}
