import AsyncHTTPClient
import Foundation
import Queue
import Hummingbird
import NIOCore
import NIOHTTP1
import TestSupport
import Testing
@testable import VideoFXServer

/// What the fixture server saw.
actor Recorder {
    var hooks: [[String: Any]] = []
    var requests: [String] = []
    var uploads: [String: Data] = [:]
    var flakyFailures = 0
    /// Fails the first two terminal deliveries with 503.
    func flaky(_ d: Data) -> Bool {
        hook(d)
        let terminal = ["succeeded", "failed", "canceled"].contains(statuses.last ?? "")
        if terminal && flakyFailures < 2 { flakyFailures += 1; return false }
        return true
    }
    var authorizations: [String?] = []
    func hook(_ d: Data, authorization: String? = nil) {
        authorizations.append(authorization)
        if let o = try? JSONSerialization.jsonObject(with: d) as? [String: Any] { hooks.append(o) }
    }
    func request(_ path: String) { requests.append(path) }
    /// Webhook requests being answered now, and the most at once.
    var inFlight = 0, maxInFlight = 0
    func enter() { inFlight += 1; maxInFlight = max(maxInFlight, inFlight) }
    func leave() { inFlight -= 1 }
    func upload(_ name: String, _ d: Data) { uploads[name] = d }
    var statuses: [String] { hooks.compactMap { $0["status"] as? String } }
    /// Each webhook's logs, and whether it carried completed_at.
    var hookLogs: [String] { hooks.map { $0["logs"] as? String ?? "" } }
    var lastHookCompleted: Bool { hooks.last?["completed_at"] is String }
    var hookCount: Int { hooks.count }
    /// The prediction id of each webhook received.
    var hookIDs: [String] { hooks.compactMap { $0["id"] as? String } }
    var lastOutput: String? { hooks.last?["output"] as? String }
}

/// Serves `files` at /files/NAME, recording each request.
func serveFiles(_ files: [String: Data], on router: Router<BasicRequestContext>, recorder: Recorder) {
    router.get("/files/:name") { _, ctx in
        let name = ctx.parameters.get("name") ?? ""
        await recorder.request("/files/" + name)
        guard let data = files[name] else { return Response(status: .notFound) }
        return Response(status: .ok, headers: [.contentType: "video/mp4"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
}

/// A loopback HTTP server for inputs, webhooks and uploads, plus the vfx server under test; both on ephemeral ports.
func withServers(concurrency: Int = 1, files: [String: Data] = [:], store: (any PredictionStore)? = nil,
                 configure: @Sendable (inout ServerConfiguration) -> Void = { _ in },
                 _ body: @Sendable @escaping (_ vfx: String, _ fixture: String, _ recorder: Recorder, _ tmp: Scratch) async throws -> Void) async throws {
    let recorder = Recorder()
    let router = Router()
    serveFiles(files, on: router, recorder: recorder)
    // 503 on the first request for a name, then the file.
    router.get("/flaky-files/:name") { _, ctx in
        let name = ctx.parameters.get("name") ?? ""
        await recorder.request("/flaky-files/" + name)
        guard await recorder.requests.filter({ $0 == "/flaky-files/" + name }).count > 1 else { return Response(status: .serviceUnavailable) }
        guard let data = files[name] else { return Response(status: .notFound) }
        return Response(status: .ok, headers: [.contentType: "video/mp4"], body: .init(byteBuffer: ByteBuffer(bytes: data)))
    }
    router.post("/hook") { req, _ in
        let b = try await req.body.collect(upTo: 1 << 28)
        await recorder.hook(Data(b.readableBytesView), authorization: req.headers[.authorization])
        return Response(status: .ok)
    }
    // Answers after 150 ms, counting how many deliveries overlap.
    router.post("/slow-hook") { req, _ in
        await recorder.enter()
        let b = try await req.body.collect(upTo: 1 << 28)
        try await Task.sleep(for: .milliseconds(150))
        await recorder.hook(Data(b.readableBytesView))
        await recorder.leave()
        return Response(status: .ok)
    }
    // Always 503: the terminal webhook retries against it.
    router.post("/down-hook") { req, _ in
        _ = try await req.body.collect(upTo: 1 << 28)
        await recorder.request("/down-hook")
        return Response(status: .serviceUnavailable)
    }
    // Redirects to the address in the query (?to=URL).
    router.get("/redirect") { req, _ in
        Response(status: .found, headers: [.location: req.uri.queryParameters.get("to") ?? "/"])
    }
    router.post("/flaky-hook") { req, _ in
        let b = try await req.body.collect(upTo: 1 << 28)
        return Response(status: await recorder.flaky(Data(b.readableBytesView)) ? .ok : .serviceUnavailable)
    }
    router.put("/upload/:name") { req, ctx in
        let b = try await req.body.collect(upTo: 1 << 28)
        await recorder.upload(ctx.parameters.get("name") ?? "", Data(b.readableBytesView))
        return Response(status: .created, headers: [.location: "http://cdn.example/\(ctx.parameters.get("name") ?? "")?sig=1"])
    }
    // No Content-Length: `MiB` mebibytes in 64 KiB chunks.
    router.get("/stream/:mib") { _, ctx in
        let chunks = (Int(ctx.parameters.get("mib") ?? "") ?? 1) * 16
        return Response(status: .ok, body: ResponseBody { writer in
            for _ in 0..<chunks { try await writer.write(ByteBuffer(repeating: 0, count: 64 << 10)) }
            try await writer.finish(nil)
        })
    }
    // Sends the head and a few bytes, then nothing.
    router.get("/stall") { _, _ in
        Response(status: .ok, body: ResponseBody { writer in
            try await writer.write(ByteBuffer(repeating: 0, count: 100))
            try await Task.sleep(for: .seconds(6))
            try await writer.finish(nil)
        })
    }
    // A byte every 200 ms: never silent long enough for the read timeout.
    router.get("/trickle") { _, _ in
        Response(status: .ok, body: ResponseBody { writer in
            for _ in 0..<100 {
                try await writer.write(ByteBuffer(repeating: 0, count: 1))
                try await Task.sleep(for: .milliseconds(200))
            }
            try await writer.finish(nil)
        })
    }
    try await withLiveServer({ running in
        Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: running)
    }) { fixtureBase in
        let tmp = try Scratch()
        var config = ServerConfiguration()
        config.host = "127.0.0.1"
        config.port = 0
        config.concurrency = concurrency
        config.temporaryDirectory = tmp.url.path
        config.keepAliveInterval = 0.5
        config.webhookRetryBase = 0.01
        // The fixture server is on loopback.
        config.allowPrivateURLs = true
        config.enableShutdown = true
        // Jobs run in child processes of the built server binary, as under `vfx serve`.
        config.jobExecutable = builtBinary("vfx-server")
        configure(&config)
        if let u = config.uploadURL { config.uploadURL = u.replacingOccurrences(of: "FIXTURE", with: fixtureBase) }
        // VFX_TEST_CLUSTER=1 (scripts/test's second run of the Cog tests): the same server with its
        // predictions in PostgreSQL, run by its own worker, so the wire shapes are checked in a cluster too.
        let cluster = try ClusterUnderTest.node()
        if cluster != nil { config.maxStoredOutputBytes = ServerConfiguration.defaultMaxStoredOutputBytes }
        let service = PredictionService(configuration: config, store: store, cluster: cluster)
        await service.runSetup()
        let background = Task { await service.runCluster() }
        defer { background.cancel() }
        if cluster != nil {
            try await waitUntil(30) { await service.notReadyReason == nil }
        }
        let serverConfig = config
        do {
            try await withLiveServer({ running in
                buildApplication(configuration: serverConfig, service: service, onServerRunning: running)
            }) { vfx in
                try await body(vfx, fixtureBase, recorder, tmp)
            }
        } catch {
            await service.cancelAll(); background.cancel(); await background.value; throw error
        }
        await service.cancelAll()
        background.cancel()
        await background.value
    }
}

/// Whether the Cog tests run against a cluster node (`VFX_TEST_CLUSTER=1` with `VFX_TEST_DATABASE_URL`).
enum ClusterUnderTest {
    static var enabled: Bool { ProcessInfo.processInfo.environment["VFX_TEST_CLUSTER"] == "1" && TestDatabase.adminURL != nil }

    /// A node on a fresh database (short leases, so a test's worker is noticed quickly), or nil.
    static func node() throws -> ClusterNode? {
        guard enabled else { return nil }
        var settings = QueueSettings()
        settings.leaseSeconds = 5
        settings.heartbeatSeconds = 1
        return ClusterNode(url: try DatabaseURL(try TestDatabase.create()), settings: settings)
    }
}

/// One HTTP exchange with a real client.
func http(_ method: HTTPMethod, _ url: String, json: Any? = nil, raw: String? = nil, headers: [(String, String)] = [],
          timeout: Int64 = 120) async throws -> (status: Int, body: Data, object: [String: Any]) {
    var req = HTTPClientRequest(url: url)
    req.method = method
    for (k, v) in headers { req.headers.add(name: k, value: v) }
    if let json { req.body = .bytes(ByteBuffer(bytes: try JSONSerialization.data(withJSONObject: json))); req.headers.add(name: "Content-Type", value: "application/json") }
    if let raw { req.body = .bytes(ByteBuffer(string: raw)); req.headers.add(name: "Content-Type", value: "application/json") }
    let resp = try await HTTPClient.shared.execute(req, timeout: .seconds(timeout))
    let body = try await resp.body.collect(upTo: 1 << 28)
    let data = Data(body.readableBytesView)
    return (Int(resp.status.code), data, (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
}

/// A test clip at 10 fps; the "long" ones (30 s of 720p, encoded with a slow preset) take several seconds to process.
func clip(seconds: Double = 1, size: String = "160x120", audio: Bool = false) throws -> Data {
    let dir = try Scratch()
    let p = dir.path("clip.mp4")
    try Media.make(p, video: "testsrc2=size=\(size):rate=10", seconds: seconds, audio: audio)
    return try Data(contentsOf: URL(fileURLWithPath: p))
}

/// Decodes a data-URL output to a file and returns its ffprobe view.
func decodeOutput(_ output: Any?, in dir: Scratch) throws -> (Media.Probe, String) {
    let s = try #require(output as? String)
    #expect(s.hasPrefix("data:video/mp4;base64,"))
    let data = try #require(Data(base64Encoded: String(s.dropFirst("data:video/mp4;base64,".count))))
    let path = dir.path("output-\(UUID().uuidString).mp4")
    try data.write(to: URL(fileURLWithPath: path))
    return (try Media.probe(path), path)
}

/// Polls `condition` every `every` seconds (a poll that spawns a process wants a longer interval).
func waitUntil(_ seconds: Double = 60, every: Double = 0.05, _ condition: @Sendable () async throws -> Bool) async throws {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
        if try await condition() { return }
        try await Task.sleep(nanoseconds: UInt64(every * 1_000_000_000))
    }
    Issue.record("timed out waiting")
}

@Suite(.serialized) struct ServerTests {
    @Test func rootHealthAndSyncPrediction() async throws {
        let video = try clip(seconds: 1, audio: true)
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, _, tmp in
            let root = try await http(.GET, vfx + "/")
            #expect(root.status == 200)
            #expect(root.object["predictions_url"] as? String == "/predictions")
            #expect(root.object["predictions_cancel_url"] as? String == "/predictions/{prediction_id}/cancel")
            let health = try await http(.GET, vfx + "/health-check")
            #expect(health.object["status"] as? String == "READY")

            let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4", "num_levels": 3]])
            #expect(r.status == 200)
            #expect(r.object["status"] as? String == "succeeded", "\(r.object["error"] ?? "")")
            let input = r.object["input"] as? [String: Any]
            #expect(input?["threshold"] as? Double == 0.5 && input?["output_codec"] as? String == "h264_nvenc")
            let metrics = r.object["metrics"] as? [String: Any]
            #expect(metrics?["predict_time"] is Double)
            #expect(metrics?["frames"] as? Int == 10)
            #expect((r.object["logs"] as? String)?.contains("frame 10/10") == true)
            for key in ["created_at", "started_at", "completed_at"] {
                #expect((r.object[key] as? String)?.range(of: #"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$"#, options: .regularExpression) != nil)
            }
            let dir = try Scratch()
            let (probe, path) = try decodeOutput(r.object["output"], in: dir)
            #expect(probe.video?.nb_read_frames == "10")
            #expect(probe.audio.count == 1)
            let rgb = try Media.rgbFrame(path, index: 5)
            let levels = [0, 128, 255]
            let near = rgb.filter { v in levels.contains { abs($0 - Int(v)) <= 24 } }.count
            #expect(Double(near) / Double(rgb.count) > 0.9)
            #expect(tmp.contents.isEmpty, "left in TMPDIR: \(tmp.contents)")
        }
    }

    @Test func validationErrorsAre422InCogShape() async throws {
        try await withServers { vfx, _, _, _ in
            func detail(_ body: Any) async throws -> [[String: Any]] {
                let r = try await http(.POST, vfx + "/predictions", json: body)
                #expect(r.status == 422)
                return r.object["detail"] as? [[String: Any]] ?? []
            }
            let missing = try await detail(["input": ["num_levels": 5]])
            #expect(missing.first?["loc"] as? [String] == ["body", "input", "video"])
            #expect(missing.first?["msg"] as? String == "Field required")
            #expect(missing.first?["type"] as? String == "value_error.missing")
            let many = try await detail(["input": ["video": "http://x/y.mp4", "num_levels": 1, "threshold": "high", "output_codec": "mpeg2", "crf": 2.5]])
            let fields = Set(many.compactMap { ($0["loc"] as? [String])?.last })
            #expect(fields == ["num_levels", "threshold", "output_codec", "crf"])
            #expect(many.contains { $0["type"] as? String == "value_error.number.not_ge" })
            #expect(many.contains { $0["type"] as? String == "type_error.enum" })
            let tooBig = try await detail(["input": ["video": "http://x/y.mp4", "num_levels": 257, "threshold": 1.5]])
            #expect(tooBig.count == 2)
            let scheme = try await detail(["input": ["video": "file:///etc/passwd"]])
            #expect(scheme.first?["loc"] as? [String] == ["body", "input", "video"])
            let malformed = try await http(.POST, vfx + "/predictions", raw: "{not json")
            #expect(malformed.status == 422 || malformed.status == 400)
            let wrongType = try await http(.POST, vfx + "/predictions", raw: #"{"input": [1,2]}"#)
            #expect(wrongType.status == 422)
        }
    }

    @Test func downloadErrorsFailThePrediction() async throws {
        try await withServers { vfx, fixture, _, tmp in
            let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/missing.mp4"]])
            #expect(r.status == 200)
            #expect(r.object["status"] as? String == "failed")
            #expect((r.object["error"] as? String)?.contains("404") == true)
            let bad = try await http(.POST, vfx + "/predictions", json: ["input": ["video": "data:video/mp4;base64,bm90IGEgdmlkZW8="]])
            #expect(bad.object["status"] as? String == "failed")
            #expect((bad.object["error"] as? String)?.isEmpty == false)
            #expect(tmp.contents.isEmpty)
        }
    }

    /// A failure names what the client sent (its URL, a data: URL by its type), never the server's own files.
    @Test func failuresNameTheClientsVideoNotTemporaryFiles() async throws {
        let text = Data("hello, this is not a video\n".utf8)
        let noVideo = try { () throws -> Data in
            let dir = try Scratch()
            let p = dir.path("a.m4a")
            try #require(try sh(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "sine", "-t", "1", "-c:a", "aac", p]).status == 0)
            return try Data(contentsOf: URL(fileURLWithPath: p))
        }()
        try await withServers(files: ["text.mp4": text, "sound.m4a": noVideo]) { vfx, fixture, _, tmp in
            for name in ["text.mp4", "sound.m4a"] {
                let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/" + name]])
                let error = r.object["error"] as? String ?? ""
                #expect(r.object["status"] as? String == "failed")
                #expect(error.contains(fixture + "/files/" + name), "\(error)")
                #expect(!error.contains(tmp.url.path) && !error.contains("/input"), "\(error)")
            }
            let data = try await http(.POST, vfx + "/predictions",
                                      json: ["input": ["video": "data:video/mp4;base64," + text.base64EncodedString()]])
            let error = data.object["error"] as? String ?? ""
            #expect(error.contains("data:video/mp4 URL") && !error.contains(tmp.url.path), "\(error)")
        }
    }

    @Test func downloadsAreCappedInSizeAndTime() async throws {
        let big = Data(count: 3 << 20)
        try await withServers(files: ["big.mp4": big], configure: { $0.maxInputBytes = 1 << 20; $0.downloadTimeout = 2 }) { vfx, fixture, _, tmp in
            // Over the cap: announced by Content-Length, then streamed without one.
            for path in ["/files/big.mp4", "/stream/3"] {
                let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + path]])
                #expect(r.object["status"] as? String == "failed", "\(path)")
                #expect((r.object["error"] as? String)?.contains("larger than the 1 MiB limit") == true, "\(path): \(r.object)")
            }
            // A server that stops sending, and one that never stops trickling.
            for path in ["/stall", "/trickle"] {
                let started = ContinuousClock.now
                let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + path]])
                #expect(r.object["status"] as? String == "failed", "\(path)")
                #expect((r.object["error"] as? String)?.contains("longer than the 2.0 s limit") == true, "\(path): \(r.object)")
                // The deadline is hard: a 2 s limit fails in about 2 s, not twice that. (A cluster's worker
                // retries a timed-out download, a transient error, within its attempts: the time differs there.)
                if !ClusterUnderTest.enabled { #expect(ContinuousClock.now - started < .seconds(3.5), "\(path)") }
            }
            // The server still serves, and nothing is left behind.
            let health = try await http(.GET, vfx + "/health-check")
            #expect(health.object["status"] as? String == "READY")
            #expect(tmp.contents.isEmpty)
        }
    }

    @Test func asyncPredictionReportsThroughWebhooks() async throws {
        let video = try clip(seconds: 2)
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, recorder, _ in
            let r = try await http(.POST, vfx + "/predictions",
                                   json: ["id": "job-1", "input": ["video": fixture + "/files/a.mp4", "effect": "threshold"],
                                          "webhook": fixture + "/hook"],
                                   headers: [("Prefer", "respond-async"), ("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01")])
            #expect(r.status == 202)
            #expect(r.object["status"] as? String == "starting")
            #expect(r.object["id"] as? String == "job-1")
            try await waitUntil { await recorder.statuses.contains("succeeded") }
            let statuses = await recorder.statuses
            #expect(statuses.first == "processing")
            #expect(statuses.last == "succeeded")
            #expect(await recorder.lastOutput?.hasPrefix("data:video/mp4;base64,") == true)
        }
    }

    /// A slow receiver gets one delivery at a time, in order: logs only grow, and the terminal state is last.
    @Test func webhooksOfOnePredictionGoOneAtATimeInOrder() async throws {
        let video = try clip(seconds: 4, size: "640x360")
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, recorder, _ in
            let r = try await http(.POST, vfx + "/predictions",
                                   json: ["input": ["video": fixture + "/files/a.mp4"], "webhook": fixture + "/slow-hook"],
                                   headers: [("Prefer", "respond-async")])
            #expect(r.status == 202)
            try await waitUntil(60) { await recorder.statuses.contains("succeeded") }
            try await Task.sleep(for: .milliseconds(400))
            #expect(await recorder.maxInFlight == 1)
            let statuses = await recorder.statuses
            #expect(statuses.count >= 3, "\(statuses)")
            #expect(statuses.last == "succeeded")
            let done = statuses.firstIndex(of: "succeeded") ?? statuses.count
            #expect(statuses[..<done].allSatisfy { $0 == "processing" } && statuses[done...].allSatisfy { $0 == "succeeded" }, "\(statuses)")
            #expect(await recorder.lastHookCompleted)
            let logs = await recorder.hookLogs
            for (a, b) in zip(logs, logs.dropFirst()) { #expect(b.hasPrefix(a), "logs went back: '\(a)' then '\(b)'") }
        }
    }

    /// A prediction can be read back by id while it runs and after it ends; the same id PUT again after it
    /// ended returns it without running it again.
    @Test func predictionsCanBeReadBackAndAreNotRunTwice() async throws {
        let video = try clip(seconds: 3, size: "640x360")
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, recorder, _ in
            let body: [String: Any] = ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264"]]
            let started = try await http(.PUT, vfx + "/predictions/kept-1", json: body, headers: [("Prefer", "respond-async")])
            #expect(started.status == 202)
            let running = try await http(.GET, vfx + "/predictions/kept-1")
            #expect(running.status == 200 && ["starting", "processing", "succeeded"].contains(running.object["status"] as? String ?? ""))
            try await waitUntil(60) { (try await http(.GET, vfx + "/predictions/kept-1")).object["status"] as? String == "succeeded" }
            let done = try await http(.GET, vfx + "/predictions/kept-1")
            #expect((done.object["output"] as? String)?.hasPrefix("data:video/mp4;base64,") == true)
            let again = try await http(.PUT, vfx + "/predictions/kept-1", json: body)
            #expect(again.status == 200 && again.object["status"] as? String == "succeeded")
            #expect(again.object["created_at"] as? String == done.object["created_at"] as? String)
            #expect(await recorder.requests.filter { $0 == "/files/a.mp4" }.count == 1, "the input was fetched again")
            #expect(try await http(.GET, vfx + "/predictions/nobody").status == 404)
            #expect(try await http(.GET, vfx + "/predictions/bad%20id").status == 404)
        }
    }

    @Test func terminalWebhookIsRetried() async throws {
        let video = try clip()
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, recorder, _ in
            _ = try await http(.POST, vfx + "/predictions",
                               json: ["input": ["video": fixture + "/files/a.mp4"], "webhook": fixture + "/flaky-hook",
                                      "webhook_events_filter": ["completed"]],
                               headers: [("Prefer", "respond-async")])
            try await waitUntil { await recorder.hookCount >= 3 }
            try await Task.sleep(nanoseconds: 300_000_000)
            #expect(await recorder.statuses == ["succeeded", "succeeded", "succeeded"])
        }
    }

    @Test func webhookEventsFilterPicksEvents() async throws {
        let video = try clip()
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, recorder, _ in
            _ = try await http(.POST, vfx + "/predictions",
                               json: ["input": ["video": fixture + "/files/a.mp4"], "webhook": fixture + "/hook",
                                      "webhook_events_filter": ["completed"]])
            try await waitUntil { await recorder.hookCount >= 1 }
            try await Task.sleep(nanoseconds: 200_000_000)
            #expect(await recorder.statuses == ["succeeded"])
        }
    }

    @Test func serverSentEvents() async throws {
        // Long enough (several keep-alive intervals of 0.5 s) for the stream to carry keep-alive comments.
        let video = try clip(seconds: 10, size: "1280x720")
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, _, _ in
            let r = try await http(.POST, vfx + "/predictions",
                                   json: ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264", "preset": "slow"]],
                                   headers: [("Accept", "text/event-stream")])
            #expect(r.status == 200)
            let text = String(decoding: r.body, as: UTF8.self)
            for event in ["event: start", "event: log", "event: output", "event: completed"] {
                #expect(text.contains(event), "missing \(event)")
            }
            #expect(text.contains("\"status\":\"succeeded\""))
            let keepAlive = text.range(of: "\n: keep-alive\n\n"), completed = text.range(of: "event: completed")
            #expect(keepAlive != nil && completed != nil && keepAlive!.lowerBound < completed!.lowerBound)
        }
    }

    @Test func idempotentPutAndCancel() async throws {
        let long = try clip(seconds: 30, size: "1280x720")
        try await withServers(files: ["long.mp4": long]) { vfx, fixture, recorder, tmp in
            let mismatch = try await http(.PUT, vfx + "/predictions/p2", json: ["id": "other", "input": ["video": "http://x/y.mp4"]])
            #expect(mismatch.status == 422)
            #expect((mismatch.object["detail"] as? [[String: Any]])?.first?["loc"] as? [String] == ["body", "id"])
            let body: [String: Any] = ["input": ["video": fixture + "/files/long.mp4", "output_codec": "libx264", "preset": "slow"],
                                       "webhook": fixture + "/hook"]
            let first = try await http(.PUT, vfx + "/predictions/p1", json: body, headers: [("Prefer", "respond-async")])
            #expect(first.status == 202)
            try await waitUntil { await recorder.statuses.contains("processing") }
            let again = try await http(.PUT, vfx + "/predictions/p1", json: body, headers: [("Prefer", "respond-async")])
            #expect(again.status == 202)
            #expect(again.object["id"] as? String == "p1")
            #expect(again.object["status"] as? String == "processing")
            // A full house answers 409 before it reads a body (checked below, with a bad one). A cluster
            // node queues instead (its 409 comes at --max-queued, tested in ClusterTests).
            if !ClusterUnderTest.enabled {
            let mismatchWhileBusy = try await http(.PUT, vfx + "/predictions/p2", json: ["id": "other", "input": ["video": "http://x/y.mp4"]])
            #expect(mismatchWhileBusy.status == 409)

            let busy = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/long.mp4"]])
            #expect(busy.status == 409)
            #expect(busy.object["error"] as? String == "At capacity - all prediction slots busy")
            #expect(try await http(.GET, vfx + "/health-check").object["status"] as? String == "BUSY")
            }

            let started = Date()
            let cancel = try await http(.POST, vfx + "/predictions/p1/cancel")
            #expect(cancel.status == 200)
            try await waitUntil(10) { await recorder.statuses.contains("canceled") }
            #expect(Date().timeIntervalSince(started) < 3)
            // Cancelling again is a no-op that still answers 200 (finished ids are remembered, boundedly).
            #expect(try await http(.POST, vfx + "/predictions/p1/cancel").status == 200)
            #expect(try await http(.POST, vfx + "/predictions/nope/cancel").status == 404)
            try await waitUntil(5) { tmp.contents.isEmpty }
            #expect(try await http(.GET, vfx + "/health-check").object["status"] as? String == "READY")
        }
    }

    @Test func syncCancelReturnsCanceled() async throws {
        let long = try clip(seconds: 30, size: "1280x720")
        try await withServers(files: ["long.mp4": long]) { vfx, fixture, _, _ in
            async let result = http(.POST, vfx + "/predictions",
                                    json: ["id": "sync-1", "input": ["video": fixture + "/files/long.mp4", "output_codec": "libx264", "preset": "slow"]])
            try await Task.sleep(nanoseconds: 1_500_000_000)
            #expect(try await http(.POST, vfx + "/predictions/sync-1/cancel").status == 200)
            let r = try await result
            #expect(r.status == 200)
            #expect(r.object["status"] as? String == "canceled")
        }
    }

    /// A sync client that closes its socket (as curl does at its --max-time) cancels the prediction
    /// long before the job would have finished. (AsyncHTTPClient's deadline did not close the
    /// connection before the response, so the test hangs up on a plain socket.)
    @Test func clientHangUpCancelsSyncPrediction() async throws {
        let long = try clip(seconds: 30, size: "1280x720")
        try await withServers(files: ["long.mp4": long]) { vfx, fixture, _, tmp in
            let fd = try rawConnect(vfx)
            let body = try JSONSerialization.data(withJSONObject: ["input": ["video": fixture + "/files/long.mp4", "output_codec": "libx264", "preset": "slow"]])
            let head = "PUT /predictions/hangs-up HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: \(body.count)\r\n\r\n"
            let request = Data(head.utf8) + body
            #expect(request.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) } == request.count)
            try await waitUntil(30) { (try await http(.GET, vfx + "/predictions/hangs-up").object["logs"] as? String ?? "").contains("frame ") }
            close(fd)
            let closed = ContinuousClock.now
            try await waitUntil(30) { try await http(.GET, vfx + "/predictions/hangs-up").object["status"] as? String == "canceled" }
            // The job (about 7 s here) was stopped, not left to run to its end.
            let logs = try await http(.GET, vfx + "/predictions/hangs-up").object["logs"] as? String ?? ""
            #expect(!logs.contains("frame 300/300"), "\(logs)")
            #expect(ContinuousClock.now - closed < .seconds(ClusterUnderTest.enabled ? 4 : 2))
            try await waitUntil(10) { try await http(.GET, vfx + "/health-check").object["status"] as? String == "READY" }
            try await waitUntil(10) { tmp.contents.isEmpty }
        }
    }

    @Test func uploadsToOutputFilePrefixAndUploadURL() async throws {
        let video = try clip()
        try await withServers(files: ["a.mp4": video], configure: { $0.uploadURL = "FIXTURE/upload/" }) { vfx, fixture, recorder, _ in
            let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"]])
            #expect(r.object["status"] as? String == "succeeded", "\(r.object["error"] ?? "")")
            // A cluster's worker names each upload by its attempt (so a lost attempt's late upload never
            // replaces the real one): output-<id>-a1.mp4.
            let uploaded = try #require(await recorder.uploads.keys.first { ClusterUnderTest.enabled ? $0.hasSuffix("-a1.mp4") : $0 == "output.mp4" })
            #expect(r.object["output"] as? String == "http://cdn.example/" + uploaded)
            #expect((await recorder.uploads[uploaded])?.count ?? 0 > 1000)
            let m = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"],
                                                                        "output_file_prefix": fixture + "/upload/pre-"])
            let prefixed = try #require(await recorder.uploads.keys.first { $0.hasPrefix("pre-output") && (ClusterUnderTest.enabled || $0 == "pre-output.mp4") })
            #expect(m.object["output"] as? String == fixture + "/upload/" + prefixed)
            let body = try #require(await recorder.uploads[prefixed])
            #expect(String(decoding: body.prefix(200), as: UTF8.self).contains("name=\"file\""))
            let failed = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"],
                                                                             "output_file_prefix": "http://127.0.0.1:9/nothing/"])
            #expect(failed.object["status"] as? String == "failed")
            #expect(failed.object["output"] is NSNull)
        }
    }

    @Test func hostileFilesCannotReachOtherAddresses() async throws {
        try await withServers(files: [:]) { vfx, fixture, recorder, _ in
            let playlist = "#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n\(fixture)/files/secret.ts\n#EXT-X-ENDLIST\n"
            let concat = "ffconcat version 1.0\nfile '/etc/passwd'\nfile '\(fixture)/files/secret2.ts'\n"
            for hostile in [playlist, concat] {
                let url = "data:application/octet-stream;base64," + Data(hostile.utf8).base64EncodedString()
                let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": url]])
                #expect(r.object["status"] as? String == "failed")
            }
            let fetched = await recorder.requests
            #expect(fetched.isEmpty, "the server fetched \(fetched)")
        }
    }

    @Test func openAPIDocumentMatchesValidation() async throws {
        try await withServers { vfx, _, _, _ in
            let doc = try await http(.GET, vfx + "/openapi.json").object
            #expect(doc["openapi"] as? String == "3.0.2")
            let schemas = try #require((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])
            for name in ["Input", "Output", "PredictionRequest", "PredictionResponse", "Status", "HTTPValidationError", "ValidationError", "output_codec"] {
                #expect(schemas[name] != nil, "missing \(name)")
            }
            let input = try #require(schemas["Input"] as? [String: Any])
            #expect(input["required"] == nil)  // video or videos: one of them (allOf's second branch)
            let alternatives = ((input["allOf"] as? [[String: Any]])?.last?["oneOf"] as? [[String: Any]])?.compactMap { $0["required"] as? [String] }
            #expect(alternatives == [["video"], ["videos"]])
            let props = try #require(input["properties"] as? [String: [String: Any]])
            #expect(props["video"]?["format"] as? String == "uri")
            #expect(props["video"]?["x-order"] as? Int == 0)
            #expect(props["num_levels"]?["default"] as? Int == 25)
            let codecEnum = (schemas["output_codec"] as? [String: Any])?["enum"] as? [String]
            #expect(codecEnum?.contains("h264_nvenc") == true)
            let paths = try #require(doc["paths"] as? [String: Any])
            for p in ["/", "/health-check", "/openapi.json", "/predictions", "/predictions/{prediction_id}", "/predictions/{prediction_id}/cancel", "/shutdown"] {
                #expect(paths[p] != nil, "missing path \(p)")
            }
            // Every status the server gives is documented, and the shapes say what really comes back.
            func responses(_ path: String, _ method: String) -> [String: Any] {
                ((paths[path] as? [String: Any])?[method] as? [String: Any])?["responses"] as? [String: Any] ?? [:]
            }
            for code in ["200", "202", "403", "409", "413", "422", "503"] {
                #expect(responses("/predictions", "post")[code] != nil, "POST /predictions \(code)")
            }
            #expect(responses("/predictions/{prediction_id}/cancel", "post")["404"] != nil)
            #expect((schemas["Output"] as? [String: Any])?["nullable"] as? Bool == true)
            #expect((schemas["PredictionRequest"] as? [String: Any])?["required"] as? [String] == ["input"])
            // What the document allows is accepted; one step beyond is rejected.
            for (name, prop) in props {
                guard let min = prop["minimum"] as? Double, let max = prop["maximum"] as? Double else { continue }
                let isInt = prop["type"] as? String == "integer"
                func value(_ d: Double) -> JSONValue { isInt ? .int(Int(d)) : .double(d) }
                let step = isInt ? 1.0 : 0.001
                for (v, ok) in [(min, true), (max, true), (min - step, false), (max + step, false)] {
                    var i: [String: JSONValue] = ["video": "http://x/y.mp4", "output_codec": "libsvtav1"]
                    i[name] = value(v)
                    if case .success = InputSchema.validate(i) { #expect(ok, "\(name)=\(v) accepted") } else { #expect(!ok, "\(name)=\(v) rejected") }
                }
            }
            for codec in codecEnum ?? [] {
                if case .failure = InputSchema.validate(["video": "http://x/y.mp4", "output_codec": .string(codec)]) { Issue.record("\(codec) rejected") }
            }
        }
    }
}
