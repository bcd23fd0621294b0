import AsyncHTTPClient
import Foundation
import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle

/// Lets a route ask the running server to stop gracefully.
public actor ShutdownController {
    private var action: (@Sendable () async -> Void)?
    public init() {}
    public func setAction(_ a: @escaping @Sendable () async -> Void) { action = a }
    func trigger() async { await action?() }
}

/// The request context of the server's routes: Hummingbird's own, plus the connection the request
/// came on, so a prediction can be cancelled when its client hangs up.
public struct ServerRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The client's connection.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Builds the Cog-compatible application; tests call this with their own configuration.
/// `onServerRunning` receives the listening channel (its local address is the one really bound).
public func buildApplication(configuration: ServerConfiguration, service: PredictionService,
                             shutdown: ShutdownController = ShutdownController(),
                             onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) -> some ApplicationProtocol {
    var logger = Logger(label: "vfx.serve")
    logger.logLevel = .info
    let router = Router(context: ServerRequestContext.self)
    PredictionRoutes(service: service, configuration: configuration, shutdown: shutdown).register(on: router)
    return Application(router: router,
                       server: .http1(configuration: .init(additionalChannelHandlers: [HangUpDetector()])),
                       configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "vfx"),
                       onServerRunning: onServerRunning, logger: logger)
}

/// The HTTP client the server fetches, uploads and calls webhooks with.
public func makeHTTPClient(configuration: ServerConfiguration) -> HTTPClient {
    var c = HTTPClient.Configuration()
    c.redirectConfiguration = .follow(max: configuration.maxRedirects, allowCycles: false)
    c.timeout = .init(connect: .seconds(10), read: .seconds(Int64(configuration.downloadTimeout)))
    return HTTPClient(eventLoopGroupProvider: .singleton, configuration: c)
}

/// Thin routes: parse, hand to the service, shape the reply.
struct PredictionRoutes: Sendable {
    let service: PredictionService
    let configuration: ServerConfiguration
    let shutdown: ShutdownController

    func register(on router: Router<ServerRequestContext>) {
        router.get("/") { _, _ in
            json(.ok, JSONValue.object([
                "cog_version": "0.14.0", "docs_url": "/docs", "openapi_url": "/openapi.json", "shutdown_url": "/shutdown",
                "healthcheck_url": "/health-check", "predictions_url": "/predictions",
                "predictions_idempotent_url": "/predictions/{prediction_id}",
                "predictions_cancel_url": "/predictions/{prediction_id}/cancel",
            ]))
        }
        router.get("/health-check") { _, _ in
            let setup = await service.setup
            let busy = await service.busy
            let status = setup == nil ? "STARTING" : (setup!.succeeded ? (busy ? "BUSY" : "READY") : "SETUP_FAILED")
            var s: [String: JSONValue] = ["status": setup == nil ? "starting" : (setup!.succeeded ? "succeeded" : "failed")]
            if let setup { s["started_at"] = .string(setup.startedAt); s["completed_at"] = .string(setup.completedAt); s["logs"] = .string(setup.logs) }
            return json(.ok, JSONValue.object(["status": .string(status), "setup": .object(s),
                                               "version": .object(["vfx": "0.1.0", "coglet": "compatible"])]))
        }
        router.get("/openapi.json") { _, _ in json(.ok, OpenAPIDocument.make()) }
        router.post("/predictions") { request, context in try await predict(request, context: context, pathID: nil) }
        router.put("/predictions/:prediction_id") { request, context in
            try await predict(request, context: context, pathID: context.parameters.get("prediction_id"))
        }
        router.post("/predictions/:prediction_id/cancel") { _, context in
            let id = context.parameters.get("prediction_id") ?? ""
            return await service.cancel(id: id) ? json(.ok, JSONValue.object([:])) : json(.notFound, JSONValue.object([:]))
        }
        router.post("/shutdown") { _, _ in
            Task { await shutdown.trigger() }
            return json(.ok, JSONValue.object([:]))
        }
    }

    func predict(_ request: Request, context: ServerRequestContext, pathID: String?) async throws -> Response {
        let body: ByteBuffer
        do { body = try await request.body.collect(upTo: configuration.maxBodyBytes) } catch {
            return json(.contentTooLarge, JSONValue.object(["detail": .string("request body larger than \(configuration.maxBodyBytes) bytes")]))
        }
        let parsed: PredictionRequest
        switch PredictionRequest.parse(Data(body.readableBytesView)) {
        case .failure(let failure): return json(.unprocessableContent, failure)
        case .success(let p): parsed = p
        }
        if let pathID, let bodyID = parsed.id, bodyID != pathID {
            return json(.unprocessableContent, InputSchema.ValidationFailure(detail: [InputSchema.Problem(loc: ["body", "id"], msg: "prediction ID must match the ID supplied in the URL", type: "value_error")]))
        }
        let input: [String: JSONValue]
        switch InputSchema.validate(parsed.input) {
        case .failure(let failure): return json(.unprocessableContent, failure)
        case .success(let i): input = i
        }
        var trace: [(String, String)] = []
        for name in ["traceparent", "tracestate"] {
            if let f = HTTPField.Name(name), let v = request.headers[f] { trace.append((name, v)) }
        }
        let created: PredictionService.Created
        do {
            created = try await service.create(parsed, input: input, id: pathID ?? parsed.id, traceHeaders: trace)
        } catch {
            return json(.conflict, JSONValue.object(["error": "At capacity - all prediction slots busy", "status": "failed"]))
        }
        if created.existing {
            return json(.accepted, created.snapshot)
        }
        let prefer = request.headers[HTTPField.Name("Prefer")!] ?? ""
        if prefer.lowercased().contains("respond-async") {
            return json(.accepted, created.snapshot)
        }
        // A sync or SSE client that hangs up (FIN or RST) cancels its prediction; once the prediction
        // has ended this does nothing.
        let entry = created.entry
        HangUpDetector.onHangUp(of: context.channel) { [service] in Task { await service.cancel(entry) } }
        if (request.headers[.accept] ?? "").contains("text/event-stream") {
            return sse(created.entry)
        }
        return json(.ok, await service.wait(created.entry))
    }

    func sse(_ entry: PredictionService.Entry) -> Response {
        let service = self.service
        let keepAlive = configuration.keepAliveInterval
        let body = ResponseBody { writer in
            let (frames, out) = AsyncStream<String>.makeStream()
            let events = await service.events(entry)
            let forward = Task {
                for await event in events {
                    switch event {
                    case .start(let p): out.yield(frame("start", ["id": .string(p.id), "status": "processing"]))
                    case .log(let line): out.yield(frame("log", ["source": "stdout", "data": .string(line)]))
                    case .output(let p): out.yield(frame("output", ["chunk": p.output.map { .string($0) } ?? .null, "index": .int(0)]))
                    case .completed(let p): out.yield(frameEncodable("completed", p))
                    }
                }
                out.finish()
            }
            let ping = Task {
                while !Task.isCancelled {
                    try? await Task.sleep(nanoseconds: UInt64(keepAlive * 1_000_000_000))
                    out.yield(": keep-alive\n\n")
                }
            }
            // Also when a write fails because the client hung up.
            defer { ping.cancel(); forward.cancel() }
            for await f in frames { try await writer.write(ByteBuffer(string: f)) }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-cache"], body: body)
    }
}

private func frame(_ event: String, _ data: [String: JSONValue]) -> String { frameEncodable(event, JSONValue.object(data)) }
private func frameEncodable<T: Encodable>(_ event: String, _ data: T) -> String {
    let text = (try? JSONEncoder.cog.encode(data)).map { String(decoding: $0, as: UTF8.self) } ?? "{}"
    return "event: \(event)\ndata: \(text)\n\n"
}

/// A JSON response.
func json<T: Encodable>(_ status: HTTPResponse.Status, _ value: T) -> Response {
    let data = (try? JSONEncoder.cog.encode(value)) ?? Data("{}".utf8)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
