import AsyncHTTPClient
import Foundation
import Testing
import TestSupport

/// Whether the real browser can run: Debian's chromium and its driver, and Selenium in the test tools.
enum Browser {
    static var available: Bool {
        TestTools.available && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromium")
            && FileManager.default.isExecutableFile(atPath: "/usr/bin/chromedriver")
    }
    static let script = repositoryRoot.appendingPathComponent("Tests/Browser/playground.py").path
}

@Suite(.serialized) struct PlaygroundPageTests {
    @Test func thePageIsServedWithAStrictPolicy() async throws {
        try await withServers { vfx, _, _, _ in
            let page = try await rawGET(vfx + "/playground")
            #expect(page.status == 200 && page.headers["content-type"]?.hasPrefix("text/html") == true)
            let csp = page.headers["content-security-policy"] ?? ""
            for directive in ["default-src 'self'", "script-src 'self'", "connect-src 'self'", "object-src 'none'"] {
                #expect(csp.contains(directive), "\(csp)")
            }
            #expect(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains("http"))
            let html = String(decoding: page.body, as: UTF8.self)
            // No inline script or style: every script has a src, no style attributes or blocks.
            #expect(html.components(separatedBy: "<script").count == 2 && html.contains("<script src=\"/playground/app.js\""))
            #expect(!html.contains("style=") && !html.contains("<style") && !html.contains("onclick"))
            for label in ["Video file", "Video URL", "Add effect", "Effects", "Time", "Codec", "Quality", "Audio"] {
                #expect(html.contains(">\(label)</label>"), "no label \(label)")
            }
            for (path, type) in [("/playground/app.js", "text/javascript"), ("/playground/app.css", "text/css"), ("/docs", "text/html"),
                                 ("/docs/app.js", "text/javascript")] {
                let asset = try await rawGET(vfx + path)
                #expect(asset.status == 200 && asset.headers["content-type"]?.hasPrefix(type) == true, "\(path)")
                #expect(asset.headers["content-security-policy"] == csp, "\(path)")
            }
            // A browser at / goes to the page; a Cog client still gets the index.
            let browser = try await rawGET(vfx + "/", accept: "text/html,application/xhtml+xml")
            #expect(browser.status == 302 && browser.headers["location"] == "/playground")
            #expect(try await http(.GET, vfx + "/").object["cog_version"] as? String == "0.14.0")
        }
        try await withServers(configure: { $0.playground = false }) { vfx, _, _, _ in
            let page = try await rawGET(vfx + "/playground"), root = try await rawGET(vfx + "/", accept: "text/html")
            #expect(page.status == 404 && root.status == 200)
        }
        try await withServers(configure: { $0.authToken = "s3cret" }) { vfx, _, _, _ in
            // The page is public; what it reads needs the token.
            let page = try await rawGET(vfx + "/playground"), script = try await rawGET(vfx + "/playground/app.js")
            let schema = try await rawGET(vfx + "/openapi.json")
            let preview = try await http(.POST, vfx + "/previews", json: ["video": "http://x/y.mp4"])
            #expect(page.status == 200 && script.status == 200)
            #expect(schema.status == 401 && preview.status == 401)
        }
    }

    /// A person's session in headless Chromium (see Tests/Browser/playground.py for every step).
    @Test(.enabled(if: Browser.available, "needs chromium, chromium-driver and scripts/test-tools (scripts/test installs them)"))
    func aPersonUsesThePlaygroundInARealBrowser() async throws {
        let dir = try Scratch()
        let clipPath = dir.path("clip.mp4"), textPath = dir.path("notes.txt")
        try clip(seconds: 2, audio: true).write(to: URL(fileURLWithPath: clipPath))
        try Data("a text file, not a video\n".utf8).write(to: URL(fileURLWithPath: textPath))
        try await withServers(files: ["a.mp4": try clip(seconds: 1, audio: true)]) { vfx, fixture, _, _ in
            let r = try sh([TestTools.path("python"), Browser.script, vfx, "--clip", clipPath, "--text", textPath,
                            "--fixture-url", fixture + "/files/a.mp4", "--out", dir.path("")])
            #expect(r.status == 0, "\(r.out)\n\(r.err)")
            #expect(r.out.contains("all checks passed"))
        }
        // The README's screenshot comes from this run (VFX_TEST_SCREENSHOT names where to keep it).
        #expect(FileManager.default.fileExists(atPath: dir.path("playground.png")))
        if let keep = ProcessInfo.processInfo.environment["VFX_TEST_SCREENSHOT"] {
            try? FileManager.default.removeItem(atPath: keep)
            try FileManager.default.copyItem(atPath: dir.path("playground.png"), toPath: keep)
        }
    }

    @Test(.enabled(if: Browser.available, "needs chromium, chromium-driver and scripts/test-tools (scripts/test installs them)"))
    func withATokenThePageAsksForIt() async throws {
        try await withServers(configure: { $0.authToken = "s3cret" }) { vfx, fixture, _, _ in
            let r = try sh([TestTools.path("python"), Browser.script, vfx, "--clip", "-", "--text", "-",
                            "--fixture-url", fixture, "--out", "/tmp", "--token", "s3cret"])
            #expect(r.status == 0, "\(r.out)\n\(r.err)")
        }
    }
}

/// A GET with the response's headers (lower-cased names), without following redirects.
func rawGET(_ url: String, accept: String? = nil) async throws -> (status: Int, headers: [String: String], body: Data) {
    var req = HTTPClientRequest(url: url)
    if let accept { req.headers.add(name: "Accept", value: accept) }
    let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: .init(redirectConfiguration: .disallow))
    let resp: HTTPClientResponse, body: Data
    do {
        resp = try await client.execute(req, timeout: .seconds(30))
        body = Data(try await resp.body.collect(upTo: 1 << 24).readableBytesView)
    } catch {
        try? await client.shutdown()
        throw error
    }
    try? await client.shutdown()
    var headers: [String: String] = [:]
    for h in resp.headers { headers[h.name.lowercased()] = h.value }
    return (Int(resp.status.code), headers, body)
}
