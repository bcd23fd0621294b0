import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Sends prediction objects to a client's webhook: progress events best-effort, the terminal one
/// retried with exponential backoff on connection errors, 429 and 5xx.
struct WebhookSender: Sendable {
    let client: HTTPClient
    let configuration: ServerConfiguration
    /// `traceparent` / `tracestate` of the request that created the prediction.
    let traceHeaders: [(String, String)]

    func send(_ prediction: Prediction, to url: String, terminal: Bool) async {
        guard let body = try? JSONEncoder.cog.encode(prediction) else { return }
        let attempts = terminal ? configuration.webhookRetries : 1
        var delay = configuration.webhookRetryBase
        for attempt in 1...attempts {
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/json")
            if let token = ProcessInfo.processInfo.environment["WEBHOOK_AUTH_TOKEN"], !token.isEmpty {
                request.headers.add(name: "Authorization", value: "Bearer \(token)")
            }
            for (k, v) in traceHeaders { request.headers.add(name: k, value: v) }
            request.body = .bytes(ByteBuffer(bytes: body))
            var retry = false
            do {
                let response = try await client.execute(request, timeout: .seconds(10))
                let code = response.status.code
                retry = code == 429 || code >= 500
                _ = try? await response.body.collect(upTo: 1 << 20)
            } catch { retry = true }
            if !retry || attempt == attempts { return }
            try? await Task.sleep(nanoseconds: UInt64(delay * 1_000_000_000))
            delay *= 2
        }
    }
}

/// Delivers a finished file: a data URL, or a PUT to an upload URL or the request's output_file_prefix.
struct OutputDelivery: Sendable {
    let client: HTTPClient
    let configuration: ServerConfiguration

    struct UploadError: Error, CustomStringConvertible {
        let url: String, why: String
        var description: String { "could not upload the output to \(url): \(why)" }
    }

    func deliver(file path: String, mimeType: String, prefix: String?) async throws -> String {
        let name = (path as NSString).lastPathComponent
        if let prefix {
            let url = prefix + name
            let boundary = "vfx-\(UUID().uuidString)"
            var body = Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"file\"; filename=\"\(name)\"\r\nContent-Type: \(mimeType)\r\n\r\n".utf8)
            body.append(try Data(contentsOf: URL(fileURLWithPath: path)))
            body.append(Data("\r\n--\(boundary)--\r\n".utf8))
            _ = try await put(url, body: body, contentType: "multipart/form-data; boundary=\(boundary)")
            return url
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
        var request = HTTPClientRequest(url: url)
        request.method = .PUT
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(Int64(configuration.downloadTimeout)))
            _ = try? await response.body.collect(upTo: 1 << 20)
            guard (200..<300).contains(response.status.code) else { throw UploadError(url: url, why: "HTTP \(response.status.code)") }
            return response.headers.first(name: "location")
        } catch let e as UploadError { throw e } catch {
            throw UploadError(url: url, why: "\(error)")
        }
    }
}
