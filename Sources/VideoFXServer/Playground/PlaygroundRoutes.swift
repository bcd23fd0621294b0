import HTTPTypes
import Hummingbird
import NIOCore

/// `/playground` (and `/docs`, the API reference): the pages, their script and style, public (every request the page makes for data
/// carries the token when the server has one); `/` sends a browser there.
struct PlaygroundRoutes: Sendable {
    /// Only this origin, in every fetch directive; no inline script or style, no eval, no plugins.
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; "
        + "media-src 'self' blob: data:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
        + "form-action 'self'; frame-ancestors 'none'"

    /// The paths anyone may read (the token guards the data, not the page).
    static let publicPaths: Set<String> = ["/playground", "/playground/app.js", "/playground/app.css", "/docs", "/docs/app.js"]

    /// Whether `/playground` is served (`/docs` always is; it shares the style).
    let playground: Bool

    func register(on router: Router<ServerRequestContext>) {
        if playground {
            router.get("/playground") { _, _ in Self.asset(PlaygroundPage.html, type: "text/html; charset=utf-8") }
            router.get("/playground/app.js") { _, _ in Self.asset(PlaygroundScript.js, type: "text/javascript; charset=utf-8") }
        }
        router.get("/playground/app.css") { _, _ in Self.asset(PlaygroundStyle.css, type: "text/css; charset=utf-8") }
        router.get("/docs") { _, _ in Self.asset(DocsPage.html, type: "text/html; charset=utf-8") }
        router.get("/docs/app.js") { _, _ in Self.asset(DocsPage.js, type: "text/javascript; charset=utf-8") }
    }

    static func asset(_ text: String, type: String) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = type
        headers[.contentSecurityPolicy] = contentSecurityPolicy
        headers[.xContentTypeOptions] = "nosniff"
        headers[.cacheControl] = "no-cache"
        headers[HTTPField.Name("Referrer-Policy")!] = "no-referrer"
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    /// Whether a request for `/` comes from a browser (it asks for HTML).
    static func wantsPage(_ request: Request) -> Bool {
        (request.headers[.accept] ?? "").lowercased().contains("text/html")
    }
}
