import Foundation
import HTTPTypes
import Hummingbird

/// Requires `Authorization: Bearer <token>` on every endpoint but the health check.
struct BearerTokenMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext
    let token: String

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if request.uri.path == "/health-check" || PlaygroundRoutes.publicPaths.contains(request.uri.path) {
            return try await next(request, context)
        }
        let given = request.headers[.authorization] ?? ""
        guard given.hasPrefix("Bearer "), Self.equal(Array(given.utf8.dropFirst(7)), Array(token.utf8)) else {
            var response = json(.unauthorized, JSONValue.object(["detail": "missing or wrong bearer token (Authorization: Bearer ...)"]))
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }

    /// Compares in time that depends only on the lengths.
    static func equal(_ a: [UInt8], _ b: [UInt8]) -> Bool {
        guard a.count == b.count else { return false }
        return zip(a, b).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// Answers 405 with `Allow` for a method a known path does not take (the router alone says 404).
struct MethodNotAllowedMiddleware: RouterMiddleware {
    typealias Context = ServerRequestContext

    /// Each path pattern (`*` one segment) with the methods it takes.
    static let routes: [([String], [String])] = [
        ([], ["GET"]), (["health-check"], ["GET"]), (["openapi.json"], ["GET"]), (["metrics"], ["GET"]), (["predictions"], ["POST"]),
        (["predictions", "*"], ["GET", "PUT"]), (["predictions", "*", "cancel"], ["POST"]), (["shutdown"], ["POST"]),
        (["files"], ["POST"]), (["files", "*"], ["GET", "DELETE"]), (["files", "*", "download"], ["GET"]), (["previews"], ["POST"]), (["playground"], ["GET"]),
        (["playground", "app.js"], ["GET"]), (["playground", "app.css"], ["GET"]), (["docs"], ["GET"]), (["docs", "app.js"], ["GET"]),
        (["queue"], ["GET"]),
    ]

    static func allowed(for path: String) -> [String]? {
        let segments = path.split(separator: "/").map(String.init)
        return routes.first { pattern, _ in
            pattern.count == segments.count && zip(pattern, segments).allSatisfy { $0 == "*" || $0 == $1 }
        }?.1
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as HTTPError where error.status == .notFound {
            guard let allowed = Self.allowed(for: request.uri.path), !allowed.contains(request.method.rawValue) else { throw error }
            var response = json(.methodNotAllowed, JSONValue.object(["detail": .string("Method Not Allowed")]))
            response.headers[.allow] = allowed.joined(separator: ", ")
            return response
        }
    }
}

/// Counts the values in a JSON text without parsing it (objects, arrays and the members and elements
/// they hold), so a body built to be expensive to parse is refused first.
enum JSONBudget {
    static func valueCount(_ bytes: some Collection<UInt8>) -> Int {
        var count = 1, inString = false, escaped = false
        for b in bytes {
            if inString {
                if escaped { escaped = false } else if b == UInt8(ascii: "\\") { escaped = true } else if b == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch b {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "["), UInt8(ascii: "{"), UInt8(ascii: ","): count += 1
            default: break
            }
        }
        return count
    }
}

/// Prediction ids: letters, digits, `-` and `_`, 1 to 128 of them. They never name a file.
enum PredictionID {
    /// The rule as a regular expression (the OpenAPI document's pattern).
    static let pattern = "^[A-Za-z0-9_-]{1,128}$"
    /// The rule in words, for error messages.
    static let rule = "an id is 1 to 128 letters, digits, '-' or '_'"

    static func isValid(_ id: String) -> Bool {
        !id.isEmpty && id.utf8.count <= 128 && id.utf8.allSatisfy { c in
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c == 0x2d || c == 0x5f
        }
    }
}
