import AsyncHTTPClient
import ErrorTaxonomy
import Foundation
import NIOCore
import NIOHTTP1

/// The header every webhook request carries. A prediction request that arrives with it is refused,
/// so a webhook pointed at this server (or at another server that webhooks back) cannot loop.
let webhookMarkerHeader = "X-VFX-Webhook"

/// Sends prediction objects to a client's webhook: progress events best-effort, the terminal one
/// retried with exponential backoff on connection errors, 429 and 5xx, within a total time budget.
struct WebhookSender: Sendable {
    let http: OutboundHTTP
    let configuration: ServerConfiguration
    /// `traceparent` / `tracestate` of the request that created the prediction.
    let traceHeaders: [(String, String)]
    let metrics: ServerMetrics

    /// Whether the operator's webhook token may go to this URL's host.
    func mayCarryToken(_ url: String) -> Bool {
        guard let host = URLComponents(string: url)?.host?.lowercased() else { return false }
        return configuration.webhookTokenHosts.contains(host)
    }

    /// What one POST of a webhook gave.
    enum Attempt: Sendable { case delivered, retry, refused }

    /// POSTs a webhook body once: delivered (any answer but 429 and 5xx), worth a retry, or refused by
    /// the outbound policy (never worth one).
    func post(_ body: Data, to url: String) async -> Attempt {
        var headers = HTTPHeaders([("Content-Type", "application/json"), (webhookMarkerHeader, "1")])
        if let token = configuration.webhookToken, !token.isEmpty, mayCarryToken(url) {
            headers.add(name: "Authorization", value: "Bearer \(token)")
        }
        for (k, v) in traceHeaders { headers.add(name: k, value: v) }
        do {
            let code = try await http.withResponse(url, method: .POST, headers: headers, body: ByteBuffer(bytes: body),
                                                   deadline: .now() + .seconds(10), what: "webhook \(url)") { response in
                _ = try? await response.body.collect(upTo: 1 << 20)
                return Int(response.status.code)
            }
            return code == 429 || code >= 500 ? .retry : .delivered
        } catch is OutboundPolicy.Refusal {
            return .refused
        } catch { return .retry }
    }

    /// The wait before retry `attempt` + 1 of a terminal webhook, or nil when the attempts or the
    /// time budget (counted from `started`) are spent.
    func retryDelay(after attempt: Int, started: ContinuousClock.Instant) -> Double? {
        let delay = configuration.webhookRetryBase * Double(1 << min(attempt - 1, 20))
        let budgetEnd = started + .milliseconds(Int64(configuration.webhookRetryBudget * 1000))
        guard attempt < configuration.webhookRetries, ContinuousClock.now + .milliseconds(Int64(delay * 1000)) < budgetEnd else { return nil }
        return delay
    }

    func send(_ prediction: Prediction, to url: String, terminal: Bool) async {
        guard let body = try? JSONEncoder.cog.encode(prediction) else { return }
        let started = ContinuousClock.now
        var attempt = 1
        while !Task.isCancelled {
            switch await post(body, to: url) {
            case .delivered: return
            case .refused: metrics.webhookFailures.increment(); return
            case .retry:
                guard terminal, let delay = retryDelay(after: attempt, started: started) else {
                    metrics.webhookFailures.increment()
                    return
                }
                metrics.webhookRetries.increment()
                try? await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
                attempt += 1
            }
        }
    }
}

/// Delivers a finished file: a data URL, or a PUT to an upload URL or the request's output_file_prefix.
struct OutputDelivery: Sendable {
    let http: OutboundHTTP
    let configuration: ServerConfiguration
    let metrics: ServerMetrics

    /// An output that could not be delivered: over the size limit (the job's fault: bad media), or the
    /// upload failing (unavailable; a 5xx or a dropped connection may pass on a retry: transient).
    struct UploadError: Error, CategorizedError, CustomStringConvertible {
        let url: String, why: String
        var category: ErrorCategory = .unavailable
        var description: String { "could not upload the output to \(url): \(why)" }
    }

    func deliver(file path: String, mimeType: String, prefix: String?) async throws -> String {
        let name = (path as NSString).lastPathComponent
        let size = (try? FileManager.default.attributesOfItem(atPath: path)[.size] as? Int) ?? 0
        if size > configuration.maxOutputBytes {
            throw UploadError(url: prefix ?? configuration.uploadURL ?? "the response",
                              why: "the output is \(size >> 20) MiB, over the \(configuration.maxOutputBytes >> 20) MiB limit (max_output_bytes)",
                              category: .badMedia)
        }
        if let prefix {
            let url = prefix + name
            let boundary = "vfx-\(UUID().uuidString)"
            var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: \(mimeType)\r\n\r\n".utf8)
            body.append(try Data(contentsOf: URL(fileURLWithPath: path)))
            body.append(Data("\r\n--\(boundary)--\r\n".utf8))
            _ = try await put(url, body: body, contentType: "multipart/form-data; boundary=\(boundary)")
            return url
        }
        // In a cluster an output without an upload URL is kept in the database row, within its own limit.
        if configuration.uploadURL == nil, let limit = configuration.maxStoredOutputBytes, size > limit {
            throw UploadError(url: "the database", why: "the output is \(size >> 20) MiB, over the \(limit >> 20) MiB a cluster keeps in "
                              + "PostgreSQL (--max-stored-output-mib); give the nodes --upload-url to deliver larger outputs", category: .badMedia)
        }
        if let base = configuration.uploadURL {
            let url = base + name
            let location = try await put(url, body: try Data(contentsOf: URL(fileURLWithPath: path)), contentType: mimeType)
            if let location, var parts = URLComponents(string: location) {
                parts.query = nil
                return parts.string ?? url
            }
            return url
        }
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return "data:\(mimeType);base64,\(data.base64EncodedString())"
    }

    private func put(_ url: String, body: Data, contentType: String) async throws -> String? {
        do {
            return try await http.withResponse(url, method: .PUT, headers: ["Content-Type": contentType], body: ByteBuffer(bytes: body),
                                               deadline: .now() + .milliseconds(Int64(configuration.downloadTimeout * 1000)),
                                               what: "upload \(url)") { response in
                _ = try? await response.body.collect(upTo: 1 << 20)
                guard (200..<300).contains(response.status.code) else {
                    throw UploadError(url: url, why: "HTTP \(response.status.code)", category: response.status.code >= 500 ? .transient : .unavailable)
                }
                metrics.uploadedBytes.increment(by: Int64(body.count))
                return response.headers.first(name: "location")
            }
        } catch let e as UploadError { throw e } catch {
            throw UploadError(url: url, why: "\(error)", category: .transient)
        }
    }
}
