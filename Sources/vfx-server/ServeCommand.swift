import ArgumentParser
import Foundation
import MediaIO
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

    @Option(help: "Largest input video, in MiB.")
    var maxInputMib: Int = 2048

    @Option(help: "Seconds a download may take.")
    var downloadTimeout: Double = 300

    @Option(help: "Largest request body, in MiB.")
    var maxBodyMib: Int = 256

    func run() async throws {
        FFmpegLog.configure(verbose: false)
        var config = ServerConfiguration()
        config.host = host
        config.port = port ?? ProcessInfo.processInfo.environment["PORT"].flatMap(Int.init) ?? 5000
        config.concurrency = max(1, concurrency)
        config.uploadURL = uploadURL
        config.maxInputBytes = maxInputMib << 20
        config.downloadTimeout = downloadTimeout
        config.maxBodyBytes = maxBodyMib << 20
        let client = makeHTTPClient(configuration: config)
        let service = PredictionService(configuration: config, client: client)
        let shutdown = ShutdownController()
        let app = buildApplication(configuration: config, service: service, shutdown: shutdown)
        let group = ServiceGroup(configuration: .init(services: [app], gracefulShutdownSignals: [.sigterm, .sigint], logger: app.logger))
        await shutdown.setAction { await group.triggerGracefulShutdown() }
        Task { await service.runSetup() }
        do {
            try await group.run()
        } catch {
            await service.cancelAll()
            try? await client.shutdown()
            throw error
        }
        await service.cancelAll()
        try? await client.shutdown()
    }
}
