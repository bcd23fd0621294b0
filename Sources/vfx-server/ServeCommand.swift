import ArgumentParser
import Foundation
import Logging
import MediaIO
import Pipeline
import ServiceLifecycle
import VideoFXServer

// `vfx serve` execs this binary. It is separate so that `vfx process` does not load Foundation and the
// server stack: about 9 MiB less resident memory per job.
@main
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vfx serve", abstract: "Serve the Cog prediction API (POST /predictions) over the engine.")

    @Option(help: "Address to listen on.")
    var host: String = "0.0.0.0"

    @Option(help: "Port (default: $PORT, else 5000).")
    var port: Int?

    @Option(help: "Predictions that may run at once; more get 409.")
    var concurrency: Int = 1

    @Option(help: "PUT finished files to this URL plus the file name, and return that URL instead of a data URL.")
    var uploadURL: String?

    @Option(help: "Require 'Authorization: Bearer TOKEN' on every endpoint but /health-check (default: $VFX_AUTH_TOKEN).")
    var authToken: String?

    @Flag(help: "Let POST /shutdown stop the server (off: anyone who reaches the port could).")
    var enableShutdown = false

    @Flag(help: "Allow input, webhook and upload URLs on loopback and private networks (link-local and metadata addresses stay refused).")
    var allowPrivateURLs = false

    @Option(help: "Hosts that may receive $WEBHOOK_AUTH_TOKEN with webhooks (comma-separated; none by default).")
    var webhookTokenHosts: String = ""

    @Option(help: "Largest input video, in MiB.")
    var maxInputMib: Int = 2048

    @Option(help: "Largest output video, in MiB.")
    var maxOutputMib: Int = 2048

    @Option(help: "Seconds a download may take in all.")
    var downloadTimeout: Double = 300

    @Option(help: "Downloads that may run at once.")
    var maxDownloads: Int = 4

    @Option(help: "Largest request body, in MiB (data: URL inputs travel in it).")
    var maxBodyMib: Int = 128

    @Option(help: "Most JSON values a request body may hold.")
    var maxJsonElements: Int = 10_000

    @Option(help: "Widest and tallest video accepted, in pixels.")
    var maxWidth: Int = 4096
    @Option(help: "Tallest video accepted, in pixels.")
    var maxHeight: Int = 4096
    @Option(help: "Most pixels in one frame.")
    var maxPixels: Int = 4096 * 2304
    @Option(help: "Most frames in one video.")
    var maxFrames: Int = 54_000
    @Option(help: "Longest video, in seconds.")
    var maxDuration: Double = 900

    @Option(help: "Seconds a client has to send its request headers.")
    var headerTimeout: Double = 10

    @Option(help: "Seconds shutdown lets running predictions and webhooks finish before cancelling them.")
    var shutdownGrace: Double = 10

    @Option(help: "Log format: text, or json (one object per line, with prediction_id on a prediction's lines).")
    var logFormat: String = "text"

    func validate() throws {
        guard ["text", "json"].contains(logFormat) else { throw ValidationError("--log-format must be text or json, not '\(logFormat)'") }
    }

    func run() async throws {
        FFmpegLog.configure(verbose: false)
        if logFormat == "json" { LoggingSystem.bootstrap { JSONLogHandler(label: $0) } }
        let env = ProcessInfo.processInfo.environment
        var config = ServerConfiguration()
        config.host = host
        config.port = port ?? env["PORT"].flatMap(Int.init) ?? 5000
        config.concurrency = max(1, concurrency)
        config.uploadURL = uploadURL
        config.authToken = authToken ?? env["VFX_AUTH_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        config.enableShutdown = enableShutdown
        config.allowPrivateURLs = allowPrivateURLs
        config.webhookToken = env["WEBHOOK_AUTH_TOKEN"]
        config.webhookTokenHosts = Set(webhookTokenHosts.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
        config.maxInputBytes = maxInputMib << 20
        config.maxOutputBytes = maxOutputMib << 20
        config.downloadTimeout = downloadTimeout
        config.maxConcurrentDownloads = max(1, maxDownloads)
        config.maxBodyBytes = maxBodyMib << 20
        config.maxJSONElements = maxJsonElements
        config.mediaLimits = MediaLimits(maxWidth: maxWidth, maxHeight: maxHeight, maxPixels: maxPixels, maxFrames: maxFrames,
                                         maxDuration: maxDuration)
        config.headerTimeout = headerTimeout
        config.shutdownGrace = shutdownGrace
        let service = PredictionService(configuration: config)
        let shutdown = ShutdownController()
        let app = buildApplication(configuration: config, service: service, shutdown: shutdown)
        // Services stop in reverse order: the drain first (new predictions refused, running ones given
        // the grace period, then cancelled), then the HTTP server.
        let drain = PredictionDrain(service: service)
        let group = ServiceGroup(configuration: .init(services: [app, drain], gracefulShutdownSignals: [.sigterm, .sigint],
                                                      logger: app.logger))
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

/// Waits for shutdown, then drains the prediction service within its configured grace period.
struct PredictionDrain: Service {
    let service: PredictionService

    func run() async throws {
        try? await gracefulShutdown()
        await service.drain(grace: service.configuration.shutdownGrace)
    }
}
