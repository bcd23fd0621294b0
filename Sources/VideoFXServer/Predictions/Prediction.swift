import ErrorTaxonomy
import Foundation

/// The events a webhook can be sent for (Cog's names), in the order a prediction reaches them.
enum WebhookEvent: String, CaseIterable, Sendable {
    case start, output, logs, completed

    /// The events a request's `webhook_events_filter` asks for: nil, every event; empty, the terminal
    /// one only (as Cog does); else those named.
    static func selected(by filter: [String]?) -> Set<WebhookEvent> {
        guard let filter else { return Set(allCases) }
        return filter.isEmpty ? [.completed] : Set(filter.compactMap(WebhookEvent.init(rawValue:)))
    }
}

/// The prediction object Cog returns and sends to webhooks.
public struct Prediction: Codable, Sendable, Equatable {
    public enum Status: String, Codable, Sendable { case starting, processing, succeeded, canceled, failed
        var isTerminal: Bool { self == .succeeded || self == .canceled || self == .failed }
    }
    public var id: String
    public var input: [String: JSONValue]
    /// The output URL; with `videos`, a list in input order (null for an item that failed with continue_on_error).
    public var output: JSONValue?
    public var logs: String = ""
    public var error: String?
    public var status: Status = .starting
    public var created_at: String?
    public var started_at: String?
    public var completed_at: String?
    public var metrics: [String: JSONValue]?
    public var webhook: String?
    public var webhook_events_filter: [String]?
    public var output_file_prefix: String?

    // Encode explicit nulls for the fields clients look at.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(id, forKey: .id)
        try c.encode(input, forKey: .input)
        try c.encode(output ?? .null, forKey: .output)
        try c.encode(logs, forKey: .logs)
        try c.encode(error, forKey: .error)
        try c.encode(status, forKey: .status)
        try c.encode(created_at, forKey: .created_at)
        try c.encode(started_at, forKey: .started_at)
        try c.encode(completed_at, forKey: .completed_at)
        try c.encode(metrics, forKey: .metrics)
        try c.encodeIfPresent(webhook, forKey: .webhook)
        try c.encodeIfPresent(webhook_events_filter, forKey: .webhook_events_filter)
        try c.encodeIfPresent(output_file_prefix, forKey: .output_file_prefix)
    }

    /// ISO 8601 in UTC with microseconds, as Cog writes times.
    /// The time a ``timestamp(_:)`` string stands for (nil for another shape).
    static func date(from stamp: String) -> Date? {
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss"
        guard stamp.count >= 19, let whole = f.date(from: String(stamp.prefix(19))) else { return nil }
        let fraction = stamp.dropFirst(19).prefix { $0 == "." || $0.isNumber }
        return whole.addingTimeInterval(Double("0" + fraction) ?? 0)
    }

    static func timestamp(_ date: Date = Date()) -> String {
        let seconds = date.timeIntervalSince1970
        let whole = floor(seconds)
        let micros = Int((seconds - whole) * 1_000_000)
        var t = time_t(whole), parts = tm()
        gmtime_r(&t, &parts)
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06d+00:00", Int(parts.tm_year) + 1900, Int(parts.tm_mon) + 1,
                      Int(parts.tm_mday), Int(parts.tm_hour), Int(parts.tm_min), Int(parts.tm_sec), micros)
    }
}

/// The body of `POST /predictions`.
struct PredictionRequest {
    var id: String?
    var input: [String: JSONValue]
    var webhook: String?
    var webhookEventsFilter: [String]?
    var outputFilePrefix: String?
    var createdAt: String?

    /// Parses a body; unknown keys are ignored. Errors come back in Cog's 422 shape.
    static func parse(_ data: Data) -> Result<PredictionRequest, InputSchema.ValidationFailure> {
        guard !data.isEmpty else { return .success(PredictionRequest(input: [:])) }
        guard let value = try? JSONDecoder().decode(JSONValue.self, from: data), let body = value.object else {
            return .failure(.init(detail: [InputSchema.Problem(loc: ["body"], msg: "request body is not a JSON object", type: "value_error.jsondecode")]))
        }
        var problems: [InputSchema.Problem] = []
        var input: [String: JSONValue] = [:]
        switch body["input"] {
        case nil, .null?: break
        case .object(let o)?: input = o
        default: problems.append(.init(loc: ["body", "input"], msg: "value is not a valid dict", type: "type_error.dict"))
        }
        func string(_ key: String) -> String? {
            switch body[key] {
            case nil, .null?: return nil
            case .string(let s)?: return s
            default: problems.append(.init(loc: ["body", key], msg: "str type expected", type: "type_error.str")); return nil
            }
        }
        for key in ["webhook", "output_file_prefix"] {
            if case .string(let url)? = body[key], !isURI(url) {
                problems.append(.init(loc: ["body", key], msg: "invalid URL: only the characters RFC 3986 allows", type: "value_error.url"))
            }
        }
        if let created = string("created_at"),
           created.range(of: #"^\d{4}-\d\d-\d\d[Tt ]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)$"#, options: .regularExpression) == nil {
            problems.append(.init(loc: ["body", "created_at"], msg: "invalid datetime format", type: "value_error.datetime"))
        }
        var r = PredictionRequest(id: string("id"), input: input, webhook: string("webhook"),
                                  outputFilePrefix: string("output_file_prefix"), createdAt: string("created_at"))
        switch body["webhook_events_filter"] {
        case nil, .null?, .array?: break
        default: problems.append(.init(loc: ["body", "webhook_events_filter"], msg: "value is not a valid list", type: "type_error.list"))
        }
        if case .array(let events)? = body["webhook_events_filter"] {
            let names = events.compactMap(\.string)
            let allowed = WebhookEvent.allCases.map(\.rawValue)
            if names.count != events.count || !names.allSatisfy(allowed.contains) {
                problems.append(.init(loc: ["body", "webhook_events_filter"], msg: "value is not a valid enumeration member; permitted: \(allowed.map { "'\($0)'" }.joined(separator: ", "))", type: "type_error.enum"))
            }
            r.webhookEventsFilter = names
        }
        return problems.isEmpty ? .success(r) : .failure(.init(detail: problems))
    }
}

/// An item of a `videos` prediction that failed: the prediction's error names it.
struct ItemFailure: Error, CategorizedError, CustomStringConvertible {
    var category: ErrorCategory { ErrorCategory.of(underlying) }
    let label: String
    let underlying: any Error
    var description: String { "\(label): \(underlying)" }
}
