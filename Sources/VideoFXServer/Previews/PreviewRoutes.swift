import ErrorTaxonomy
import Foundation
import HTTPTypes
import Hummingbird
import Pipeline

/// `POST /previews` `{video, effects, at, compare}`: one frame of the recipe as a PNG (the original
/// beside the result with `compare`), validated like a prediction before anything is fetched.
struct PreviewRoutes: Sendable {
    let runner: PredictionRunner
    let configuration: ServerConfiguration

    func register(on router: Router<ServerRequestContext>) {
        router.post("/previews") { request, _ in try await preview(request) }
    }

    /// What a preview request asks for, once valid.
    struct Ask {
        var video: String
        var steps: [ChainStep]
        var at: Double
        var compare: Bool
    }

    /// The request's fields checked (422 problems as predictions give them), before any download.
    static func validate(_ body: [String: JSONValue]) -> Result<Ask, InputSchema.ValidationFailure> {
        var problems: [InputSchema.Problem] = []
        func problem(_ field: String, _ msg: String, _ type: String) { problems.append(.init(loc: ["body", field], msg: msg, type: type)) }
        for key in body.keys.sorted() where !["video", "effects", "at", "compare"].contains(key) {
            problem(key, "extra fields not permitted (a preview takes video, effects, at and compare)", "value_error.extra")
        }
        var video = ""
        if let value = body["video"], value != .null {
            if let (msg, type) = InputSchema.uriProblem(value) { problem("video", msg, type) } else { video = value.string ?? "" }
        } else {
            problem("video", "field required", "value_error.missing")
        }
        var steps: [ChainStep] = []
        if let value = body["effects"], value != .null {
            do { steps = try InputSchema.checkedSteps(value) } catch { problem("effects", "\(error)", "value_error.effects") }
        }
        var at = 0.0
        switch body["at"] {
        case nil, .null?: break
        case .int(let n)?: at = Double(n)
        case .double(let d)?: at = d
        default: problem("at", "value is not a valid float", "type_error.float")
        }
        if !(at.isFinite && at >= 0 && at <= 86_400) { problem("at", "ensure this value is between 0 and 86400 seconds", "value_error.number") }
        var compare = false
        switch body["compare"] {
        case nil, .null?: break
        case .bool(let b)?: compare = b
        default: problem("compare", "value could not be parsed to a boolean", "type_error.bool")
        }
        guard problems.isEmpty else { return .failure(InputSchema.ValidationFailure(detail: problems)) }
        return .success(Ask(video: video, steps: steps, at: at, compare: compare))
    }

    private func preview(_ request: Request) async throws -> Response {
        let bytes: Data
        switch await readJSONBody(request, configuration) {
        case .refused(let response): return response
        case .body(let b): bytes = b
        }
        guard case .object(let body)? = try? JSONDecoder().decode(JSONValue.self, from: bytes) else {
            return json(PredictionRoutes.refused, InputSchema.ValidationFailure(detail: [
                InputSchema.Problem(loc: ["body"], msg: "the body must be a JSON object", type: "value_error.jsondecode")]))
        }
        let ask: Ask
        switch Self.validate(body) {
        case .failure(let failure): return json(PredictionRoutes.refused, failure)
        case .success(let a): ask = a
        }
        do {
            let png = try await runner.preview(video: ask.video, steps: ask.steps, at: ask.at, compare: ask.compare)
            return Response(status: .ok, headers: [.contentType: "image/png", .cacheControl: "no-store"],
                            body: .init(byteBuffer: ByteBuffer(bytes: png)))
        } catch let refusal as OutboundPolicy.Refusal {
            return json(.forbidden, JSONValue.object(["detail": .string("\(refusal)")]))
        } catch {
            // The client's video or steps (not media, unreachable, too big, a timeout): 422 with the reason; ours: 500.
            let category = ErrorCategory.of(error)
            let status = category == .internal ? 500 : category == .cancelled ? 409 : 422
            return json(HTTPResponse.Status(code: status), JSONValue.object(["detail": .string("\(error)")]))
        }
    }
}
