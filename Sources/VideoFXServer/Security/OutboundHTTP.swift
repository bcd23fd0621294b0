import ErrorTaxonomy
import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// HTTP requests to URLs that clients name (inputs, webhooks, uploads).
///
/// Each hop resolves its host, has ``OutboundPolicy`` check every address, and connects to the
/// address it checked (AsyncHTTPClient's DNS override pins it, while TLS still verifies the name).
/// Redirects are followed here, hop by hop, under the same check; a refused connection fails at once
/// instead of being retried until the connect timeout.
struct OutboundHTTP: Sendable {
    let policy: OutboundPolicy
    var connectTimeout: TimeAmount = .seconds(5)
    /// Longest silence while reading a response.
    var readTimeout: TimeAmount = .seconds(30)
    var maxRedirects = 5

    /// Too many redirects, or a redirect without a usable target.
    struct RedirectError: Error, CategorizedError, CustomStringConvertible {
        var category: ErrorCategory { .unavailable }
        let url: String, why: String
        var description: String { "\(url): \(why)" }
    }

    /// Sends a request and runs `handle` on the final response (after redirects) while its connection
    /// is open. A 303, or a 301/302 answering a POST, turns into a GET without a body, as browsers do.
    func withResponse<T: Sendable>(
        _ url: String, method: HTTPMethod = .GET, headers: HTTPHeaders = [:], body: ByteBuffer? = nil,
        deadline: NIODeadline, what: String, _ handle: (HTTPClientResponse) async throws -> T
    ) async throws -> T {
        var current = url, method = method, body = body
        for hop in 0...maxRedirects {
            let (host, port) = try Self.endpoint(of: current, what: what)
            let addresses = try policy.resolve(host: host, port: port, for: what)
            var config = HTTPClient.Configuration()
            config.redirectConfiguration = .disallow
            config.timeout = .init(connect: connectTimeout, read: readTimeout)
            config.connectionPool.retryConnectionEstablishment = false
            config.dnsOverride = [host: addresses[0]]
            let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: config)
            do {
                var request = HTTPClientRequest(url: current)
                request.method = method
                request.headers = headers
                if let body { request.body = .bytes(body) }
                let response = try await client.execute(request, deadline: deadline)
                let code = Int(response.status.code)
                if [301, 302, 303, 307, 308].contains(code) {
                    _ = try? await response.body.collect(upTo: 64 << 10)
                    try? await client.shutdown()
                    guard hop < maxRedirects else { throw RedirectError(url: url, why: "more than \(maxRedirects) redirects") }
                    guard let location = response.headers.first(name: "location"),
                          let next = URL(string: location, relativeTo: URL(string: current))?.absoluteString else {
                        throw RedirectError(url: current, why: "HTTP \(code) without a usable Location")
                    }
                    if code == 303 || (code == 301 || code == 302) && method == .POST { method = .GET; body = nil }
                    current = next
                    continue
                }
                let value = try await handle(response)
                try? await client.shutdown()
                return value
            } catch {
                try? await client.shutdown()
                throw error
            }
        }
        throw RedirectError(url: url, why: "more than \(maxRedirects) redirects")
    }

    /// The host and port of an http(s) URL.
    static func endpoint(of url: String, what: String) throws -> (String, Int) {
        guard let parts = URLComponents(string: url), let scheme = parts.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = parts.host, !host.isEmpty else {
            throw OutboundPolicy.Refusal(reason: "\(what): \(url) is not an http(s) URL")
        }
        return (host, parts.port ?? (scheme == "https" ? 443 : 80))
    }
}

/// Runs `body`, cancelling it when `seconds` have passed; then throws ``DeadlineExceeded``.
func withDeadline<T: Sendable>(seconds: Double, _ body: @escaping @Sendable () async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: T?.self) { group in
        group.addTask { try await body() }
        group.addTask {
            try await Task.sleep(for: .milliseconds(Int64(seconds * 1000)))
            return nil
        }
        defer { group.cancelAll() }
        guard let first = try await group.next(), let value = first else { throw DeadlineExceeded(seconds: seconds) }
        return value
    }
}

/// Work that ran past its deadline.
struct DeadlineExceeded: Error, CategorizedError, CustomStringConvertible {
    var category: ErrorCategory { .transient }
    let seconds: Double
    var description: String { "did not finish within \(seconds) s" }
}
