import AsyncHTTPClient
import ErrorTaxonomy
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
    router.add(middleware: MethodNotAllowedMiddleware())
    if let token = configuration.authToken, !token.isEmpty { router.add(middleware: BearerTokenMiddleware(token: token)) }
    OperationsRoutes(service: service).register(on: router)
    PredictionRoutes(service: service, configuration: configuration, shutdown: shutdown).register(on: router)
    FileRoutes(files: service.files).register(on: router)
    PreviewRoutes(runner: service.runner, configuration: configuration).register(on: router)
    PlaygroundRoutes(playground: configuration.playground).register(on: router)
    QueueRoutes(cluster: service.cluster).register(on: router)
    let headerTimeout = configuration.headerTimeout
    return Application(router: router,
                       server: .http1(configuration: .init(additionalChannelHandlers: [HangUpDetector(headerTimeout: headerTimeout)],
                                                           idleTimeout: .milliseconds(Int64(configuration.idleTimeout * 1000)))),
                       configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "vfx"),
                       onServerRunning: onServerRunning, logger: logger)
}

/// A `vfx worker`'s HTTP face (with `--port`): `/health-check` and `/metrics`, nothing that takes work.
public func buildWorkerApplication(configuration: ServerConfiguration, service: PredictionService) -> some ApplicationProtocol {
    var logger = Logger(label: "vfx.worker")
    logger.logLevel = .info
    let router = Router(context: ServerRequestContext.self)
    OperationsRoutes(service: service).register(on: router)
    return Application(router: router, configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "vfx"),
                       logger: logger)
}

/// What an operator or orchestrator asks: readiness and metrics.
struct OperationsRoutes: Sendable {
    let service: PredictionService

    func register(on router: Router<ServerRequestContext>) {
        router.get("/health-check") { _, _ in
            let setup = await service.setup
            let busy = await service.busy
            let notReady = await service.notReadyReason
            var status = setup == nil ? "STARTING" : (setup!.succeeded ? (busy ? "BUSY" : "READY") : "SETUP_FAILED")
            if notReady != nil, status == "READY" || status == "BUSY" { status = "UNHEALTHY" }
            var s: [String: JSONValue] = ["status": setup == nil ? "starting" : (setup!.succeeded ? "succeeded" : "failed")]
            if let setup { s["started_at"] = .string(setup.startedAt); s["completed_at"] = .string(setup.completedAt); s["logs"] = .string(setup.logs) }
            var body: [String: JSONValue] = ["status": .string(status), "setup": .object(s),
                                             "version": .object(["vfx": "0.1.0", "coglet": "compatible"])]
            if let notReady { body["reason"] = .string(notReady) }
            return json(.ok, JSONValue.object(body))
        }
        router.get("/metrics") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                     body: .init(byteBuffer: ByteBuffer(string: service.metrics.exposition())))
        }
    }
}

/// Thin routes: parse, hand to the service, shape the reply.
struct PredictionRoutes: Sendable {
    let service: PredictionService
    let configuration: ServerConfiguration
    let shutdown: ShutdownController

    func register(on router: Router<ServerRequestContext>) {
        router.get("/") { request, _ in
            if configuration.playground, PlaygroundRoutes.wantsPage(request) {
                return Response(status: .found, headers: [.location: "/playground"])
            }
            var links: [String: JSONValue] = [
                "cog_version": "0.14.0", "openapi_url": "/openapi.json",
                "healthcheck_url": "/health-check", "predictions_url": "/predictions",
                "predictions_idempotent_url": "/predictions/{prediction_id}",
                "predictions_cancel_url": "/predictions/{prediction_id}/cancel",
            ]
            if configuration.enableShutdown { links["shutdown_url"] = "/shutdown" }
            return json(.ok, JSONValue.object(links))
        }
        router.get("/openapi.json") { _, _ in json(.ok, OpenAPIDocument.make(configuration: configuration)) }
        router.post("/predictions") { request, context in try await predict(request, context: context, pathID: nil) }
        router.put("/predictions/:prediction_id") { request, context in
            try await predict(request, context: context, pathID: context.parameters.get("prediction_id"))
        }
        router.get("/predictions/:prediction_id") { _, context in
            // Any id may be asked for: one that breaks the id rule is simply one no prediction has.
            let id = context.parameters.get("prediction_id") ?? ""
            guard let p = try await service.prediction(id: id) else {
                return json(.notFound, JSONValue.object(["detail": "no prediction with this id (finished ones are kept for a while)"]))
            }
            return json(.ok, p)
        }
        router.post("/predictions/:prediction_id/cancel") { _, context in
            let id = context.parameters.get("prediction_id") ?? ""
            return await service.cancel(id: id) ? json(.ok, JSONValue.object([:])) : json(.notFound, JSONValue.object(["detail": "no running prediction with this id"]))
        }
        router.post("/shutdown") { _, _ in
            guard configuration.enableShutdown else {
                return json(.forbidden, JSONValue.object(["detail": "shutdown over HTTP is disabled (start the server with --enable-shutdown)"]))
            }
            Task { await shutdown.trigger() }
            return json(.ok, JSONValue.object([:]))
        }
    }

    private func invalid(_ loc: [String], _ msg: String, _ type: String = "value_error") -> Response {
        json(Self.refused, InputSchema.ValidationFailure(detail: [InputSchema.Problem(loc: loc, msg: msg, type: type)]))
    }

    /// Checks a URL the server will call later (webhook, upload prefix) now, before any work: it must
    /// be http(s), and a name that resolves must not resolve to a refused address. A name that does not
    /// resolve now may later (DNS can fail for a moment); every connection is checked again when made.
    private func checkOutboundURL(_ url: String, field: String) -> Response? {
        do {
            let (host, port) = try OutboundHTTP.endpoint(of: url, what: field)
            _ = try service.http.policy.resolve(host: host, port: port, for: field)
        } catch let refusal as OutboundPolicy.Refusal where refusal.unresolved {
            return nil
        } catch let refusal as OutboundPolicy.Refusal where refusal.addressRefused {
            return forbidden(field, "\(refusal)")
        } catch {
            return invalid(["body", field], "\(error)")
        }
        return nil
    }

    /// A well-formed request this server will not carry out (an address or path its policy refuses).
    private func forbidden(_ field: String, _ why: String) -> Response {
        json(.forbidden, JSONValue.object(["detail": .string("\(field): \(why)")]))
    }

    func predict(_ request: Request, context: ServerRequestContext, pathID: String?) async throws -> Response {
        // A webhook of ours (this server's or another vfx's) never starts a prediction: no loops.
        if request.headers[HTTPField.Name(webhookMarkerHeader)!] != nil {
            return json(.forbidden, JSONValue.object(["detail": "requests sent by a vfx webhook cannot create predictions (webhook loop)"]))
        }
        if let pathID, !PredictionID.isValid(pathID) {
            return invalid(["path", "prediction_id"], PredictionID.rule)
        }
        if await service.draining { return shuttingDown() }
        // The slot check comes before reading the body, so a full server spends nothing on it.
        var existing = false
        if let pathID { existing = try await service.prediction(id: pathID) != nil }
        if await service.busy, !existing { return atCapacity() }
        let body: Data
        switch await readJSONBody(request, configuration) {
        case .refused(let response): return response
        case .body(let b): body = b
        }
        let parsed: PredictionRequest
        switch PredictionRequest.parse(body) {
        case .failure(let failure): return json(Self.refused, failure)
        case .success(let p): parsed = p
        }
        if let bodyID = parsed.id {
            if !PredictionID.isValid(bodyID) { return invalid(["body", "id"], PredictionID.rule) }
            if let pathID, bodyID != pathID { return invalid(["body", "id"], "prediction ID must match the ID supplied in the URL") }
        }
        let input: [String: JSONValue]
        switch InputSchema.validate(parsed.input, configuration: configuration) {
        case .failure(let failure): return json(Self.refused, failure)
        case .success(let i): input = i
        }
        if let hook = parsed.webhook, let refusal = checkOutboundURL(hook, field: "webhook") { return refusal }
        if let prefix = parsed.outputFilePrefix {
            let segments = (URLComponents(string: prefix)?.path ?? "").split(separator: "/", omittingEmptySubsequences: false)
            if segments.contains(where: { ($0.removingPercentEncoding ?? String($0)) == ".." }) {
                return forbidden("output_file_prefix", "'..' segments are not allowed")
            }
            if let refusal = checkOutboundURL(prefix, field: "output_file_prefix") { return refusal }
        }
        var trace: [(String, String)] = []
        for name in ["traceparent", "tracestate"] {
            if let f = HTTPField.Name(name), let v = request.headers[f] { trace.append((name, v)) }
        }
        let created: PredictionService.Created
        do {
            created = try await service.create(parsed, input: input, id: pathID ?? parsed.id, traceHeaders: trace)
        } catch PredictionService.CreateError.atCapacity {
            return atCapacity()
        } catch PredictionService.CreateError.shuttingDown {
            return shuttingDown()
        } catch let full as PostgresPredictionStore.QueueFull {
            return json(.conflict, JSONValue.object(["error": .string(full.description), "status": "failed"]))
        } catch {
            // The error taxonomy's status: a recipe that cannot run is the client's (422), a store that failed is ours.
            return json(HTTPResponse.Status(code: ErrorCategory.of(error).httpStatus), JSONValue.object(["detail": .string("\(error)")]))
        }
        if created.existing {
            return json(created.snapshot.status.isTerminal ? .ok : .accepted, created.snapshot)
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

    /// The status of a request refused as invalid input: the error taxonomy's (422).
    static let refused = HTTPResponse.Status(code: ErrorCategory.invalidInput.httpStatus)

    private func shuttingDown() -> Response {
        json(.serviceUnavailable, JSONValue.object(["detail": "the server is shutting down"]))
    }

    private func atCapacity() -> Response {
        json(.conflict, JSONValue.object(["error": "At capacity - all prediction slots busy", "status": "failed"]))
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
                    case .output(let p): out.yield(frame("output", ["chunk": p.output ?? .null, "index": .int(0)]))
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

/// What reading a JSON request's body gave: the bytes, or the 413 naming the limit they passed.
enum JSONBodyRead {
    case body(Data)
    case refused(Response)
}

/// Reads a JSON request's body within `max_body_bytes`, refusing one that holds more than
/// `max_json_elements` values before anything parses it.
func readJSONBody(_ request: Request, _ configuration: ServerConfiguration) async -> JSONBodyRead {
    let body: ByteBuffer
    do { body = try await request.body.collect(upTo: configuration.maxBodyBytes) } catch {
        return .refused(json(.contentTooLarge, JSONValue.object(["detail": .string("request body larger than \(configuration.maxBodyBytes) bytes (max_body_bytes)")])))
    }
    guard JSONBudget.valueCount(body.readableBytesView) <= configuration.maxJSONElements else {
        return .refused(json(.contentTooLarge, JSONValue.object(["detail": .string("request body holds more than \(configuration.maxJSONElements) JSON values (max_json_elements)")])))
    }
    return .body(Data(body.readableBytesView))
}

/// A JSON response.
func json<T: Encodable>(_ status: HTTPResponse.Status, _ value: T) -> Response {
    let data = (try? JSONEncoder.cog.encode(value)) ?? Data("{}".utf8)
    return Response(status: status, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
}
