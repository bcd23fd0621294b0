import AsyncHTTPClient
import Foundation
import Hummingbird
import NIOCore
import NIOHTTP1
import TestSupport
import Testing
@testable import Pipeline
@testable import VideoFXServer

/// Each hostile request of the security review, and the clean answer it gets. All traffic stays on 127.0.0.1.
@Suite(.serialized) struct HostileClientTests {
    @Test func aBodyBuiltToBeExpensiveToParseIsRefusedFirst() async throws {
        try await withServers { vfx, _, _, _ in
            let values = String(repeating: "0,", count: 200_000) + "0"
            let started = ContinuousClock.now
            let r = try await http(.POST, vfx + "/predictions", raw: #"{"input": {"video": "http://x/y.mp4", "a": ["# + values + "]}}")
            #expect(r.status == 413)
            #expect(String(decoding: r.body, as: UTF8.self).contains("max_json_elements"))
            #expect(ContinuousClock.now - started < .seconds(2))
            #expect(try await http(.GET, vfx + "/health-check").status == 200)
        }
    }

    @Test func aFullHouseAnswers409BeforeReadingTheBody() async throws {
        let long = try clip(seconds: 30, size: "1280x720")
        try await withServers(files: ["long.mp4": long]) { vfx, fixture, _, _ in
            let first = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/long.mp4", "output_codec": "libx264", "preset": "slow"]],
                                       headers: [("Prefer", "respond-async")])
            #expect(first.status == 202)
            // 20 MB of body: refused for want of a slot, not parsed.
            let big = #"{"input": {"video": "data:video/mp4;base64,"# + String(repeating: "A", count: 20 << 20) + #""}}"#
            let r = try await http(.POST, vfx + "/predictions", raw: big)
            #expect(r.status == 409)
            _ = try await http(.POST, vfx + "/predictions/\(first.object["id"] as? String ?? "")/cancel")
        }
    }

    @Test func mediaLimitsFailThePredictionNamingTheLimit() async throws {
        let video = try clip(seconds: 1)  // 160x120, 10 frames at 10 fps
        let cases: [(String, @Sendable (inout ServerConfiguration) -> Void)] = [
            ("max_width", { $0.mediaLimits.maxWidth = 100 }), ("max_height", { $0.mediaLimits.maxHeight = 100 }),
            ("max_pixels", { $0.mediaLimits.maxPixels = 10_000 }), ("max_frames", { $0.mediaLimits.maxFrames = 5 }),
            ("max_duration", { $0.mediaLimits.maxDuration = 0.5 }), ("max_output_bytes", { $0.maxOutputBytes = 1000 }),
        ]
        for (limit, configure) in cases {
            try await withServers(files: ["a.mp4": video], configure: configure) { vfx, fixture, _, tmp in
                let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264"]])
                #expect(r.object["status"] as? String == "failed", "\(limit)")
                #expect((r.object["error"] as? String)?.contains(limit) == true, "\(limit): \(r.object["error"] ?? "")")
                #expect(tmp.contents.isEmpty)
            }
        }
    }

    @Test func idsAreStrictAndNeverReachTheFileSystem() async throws {
        try await withServers { vfx, _, _, tmp in
            let parent = tmp.url.deletingLastPathComponent()
            let escape = "vfx-escape-\(UUID().uuidString.prefix(8))"
            for id in ["../../" + escape, "../" + escape, "a/b", String(repeating: "a", count: 5000), "tab\there", "nul\u{0}x", ""] {
                let r = try await http(.POST, vfx + "/predictions", json: ["id": id, "input": ["video": "http://127.0.0.1:9/x.mp4"]])
                #expect(r.status == 422, "\(id.prefix(20))")
                #expect(((r.object["detail"] as? [[String: Any]])?.first?["loc"] as? [String]) == ["body", "id"])
            }
            let put = try await http(.PUT, vfx + "/predictions/" + String(repeating: "b", count: 200), json: ["input": ["video": "http://x/y"]])
            #expect(put.status == 422)
            #expect(!FileManager.default.fileExists(atPath: parent.appendingPathComponent(escape).path))
            #expect(!FileManager.default.fileExists(atPath: parent.deletingLastPathComponent().appendingPathComponent(escape).path))
            let ok = try await http(.PUT, vfx + "/predictions/Good_id-1", json: ["input": ["video": "data:video/mp4;base64,AAAA"]])
            #expect(ok.object["id"] as? String == "Good_id-1")
        }
    }

    @Test func addressClassesFollowThePolicy() throws {
        let kinds: [(String, OutboundPolicy.Kind)] = [
            ("8.8.8.8", .global), ("2001:4860:4860::8888", .global), ("127.0.0.1", .loopback), ("127.9.9.9", .loopback),
            ("::1", .loopback), ("10.1.2.3", .privateRange), ("172.16.0.1", .privateRange), ("172.32.0.1", .global),
            ("192.168.1.1", .privateRange), ("100.64.0.1", .privateRange), ("fd12::1", .privateRange),
            ("169.254.169.254", .metadata), ("fd00:ec2::254", .metadata), ("169.254.10.10", .linkLocal), ("fe80::1", .linkLocal),
            ("0.0.0.0", .unspecified), ("::", .unspecified), ("224.0.0.1", .multicast), ("::ffff:127.0.0.1", .loopback),
            ("::ffff:169.254.169.254", .metadata), ("64:ff9b::a9fe:a9fe", .metadata), ("255.255.255.255", .unspecified),
        ]
        for (ip, kind) in kinds { #expect(OutboundPolicy.kind(of: ip) == kind, "\(ip)") }
        let strict = OutboundPolicy(allowPrivate: false), open = OutboundPolicy(allowPrivate: true)
        #expect(throws: OutboundPolicy.Refusal.self) { try strict.resolve(host: "localhost", port: 80, for: "video") }
        #expect(throws: OutboundPolicy.Refusal.self) { try open.resolve(host: "169.254.169.254", port: 80, for: "video") }
        #expect(try open.resolve(host: "127.0.0.1", port: 80, for: "video") == ["127.0.0.1"])
    }

    @Test func privateAndMetadataURLsAreRefusedEverywhere() async throws {
        let video = try clip()
        try await withServers(files: ["a.mp4": video], configure: { $0.allowPrivateURLs = false }) { vfx, fixture, recorder, tmp in
            let v = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"]])
            #expect(v.object["status"] as? String == "failed")
            #expect((v.object["error"] as? String)?.contains("loopback or private") == true, "\(v.object["error"] ?? "")")
            for (field, url, status) in [("webhook", fixture + "/hook", 403), ("output_file_prefix", "http://169.254.169.254/latest/", 403),
                                         ("webhook", "http://[::1]:9/hook", 403), ("output_file_prefix", "ftp://example.com/", 422)] {
                let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": "http://127.0.0.1:9/a.mp4"], field: url])
                #expect(r.status == status, "\(field) \(url)")
                let named = status == 422 ? ((r.object["detail"] as? [[String: Any]])?.first?["loc"] as? [String])?.last
                                          : (r.object["detail"] as? String)?.components(separatedBy: ":").first
                #expect(named == field, "\(r.object)")
            }
            let reached = await recorder.requests
            #expect(reached.isEmpty, "the fixture was reached: \(reached)")
            #expect(tmp.contents.isEmpty)
        }
        // With private URLs allowed, metadata stays refused, also behind a redirect (checked hop by hop).
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, _, _ in
            let r = try await http(.POST, vfx + "/predictions",
                                   json: ["input": ["video": fixture + "/redirect?to=http://169.254.169.254/latest/meta-data/"]])
            #expect(r.object["status"] as? String == "failed")
            #expect((r.object["error"] as? String)?.contains("169.254.169.254") == true, "\(r.object["error"] ?? "")")
            let followed = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/redirect?to=/files/a.mp4"]])
            #expect(followed.object["status"] as? String == "succeeded", "\(followed.object["error"] ?? "")")
            let prefix = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"],
                                                                             "output_file_prefix": fixture + "/upload/a/../../x/"])
            #expect(prefix.status == 403)
        }
    }

    @Test func aWebhookPointedAtTheServerItselfDoesNotLoop() async throws {
        let video = try clip()
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, _, _ in
            let marked = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"]],
                                        headers: [("X-VFX-Webhook", "1")])
            #expect(marked.status == 403)
            let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"], "webhook": vfx + "/predictions"])
            #expect(r.object["status"] as? String == "succeeded")
            // No webhook started another prediction: the server stays idle.
            for _ in 0..<10 {
                #expect(try await http(.GET, vfx + "/health-check").object["status"] as? String == "READY")
                try await Task.sleep(for: .milliseconds(100))
            }
        }
    }

    @Test func authenticationAndShutdown() async throws {
        try await withServers(configure: { $0.authToken = "s3cret"; $0.enableShutdown = false }) { vfx, _, _, _ in
            #expect(try await http(.GET, vfx + "/health-check").status == 200)
            for path in ["/", "/openapi.json"] {
                #expect(try await http(.GET, vfx + path).status == 401)
                #expect(try await http(.GET, vfx + path, headers: [("Authorization", "Bearer wrong")]).status == 401)
                #expect(try await http(.GET, vfx + path, headers: [("Authorization", "Bearer s3cret")]).status == 200)
            }
            #expect(try await http(.POST, vfx + "/predictions", json: ["input": ["video": "http://x/y"]]).status == 401)
            let shutdown = try await http(.POST, vfx + "/shutdown", headers: [("Authorization", "Bearer s3cret")])
            #expect(shutdown.status == 403)
            let root = try await http(.GET, vfx + "/", headers: [("Authorization", "Bearer s3cret")])
            #expect(root.object["shutdown_url"] == nil && root.object["docs_url"] == nil)
            #expect(try await http(.GET, vfx + "/health-check").object["status"] as? String == "READY")
        }
    }

    @Test(arguments: [false, true])
    func theWebhookTokenGoesOnlyToAllowedHosts(allowed: Bool) async throws {
        let video = try clip()
        try await withServers(files: ["a.mp4": video], configure: {
            $0.webhookToken = "hook-token"
            $0.webhookTokenHosts = allowed ? ["127.0.0.1"] : ["hooks.example.com"]
        }) { vfx, fixture, recorder, _ in
            let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"], "webhook": fixture + "/hook",
                                                                        "webhook_events_filter": ["completed"]])
            #expect(r.object["status"] as? String == "succeeded")
            try await waitUntil(5) { await !recorder.authorizations.isEmpty }
            #expect(await recorder.authorizations.allSatisfy { $0 == (allowed ? "Bearer hook-token" : nil) })
        }
    }

    @Test func slowOrDeadPeersCannotHoldTheServer() async throws {
        let video = try clip()
        try await withServers(files: ["a.mp4": video], configure: { $0.headerTimeout = 1; $0.webhookRetryBudget = 30 }) { vfx, fixture, recorder, _ in
            // Half-sent headers: the connection is closed after the header timeout.
            let fd = try rawConnect(vfx)
            defer { close(fd) }
            _ = "GET / HTTP/1.1\r\nHost: x\r\n".withCString { send(fd, $0, strlen($0), 0) }
            var timeout = timeval(tv_sec: 5, tv_usec: 0)
            setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
            let started = ContinuousClock.now
            var byte: UInt8 = 0
            let n = recv(fd, &byte, 1, 0)
            #expect(n == 0, "the server kept a half-sent request open")
            #expect(ContinuousClock.now - started < .seconds(3))

            // A refused connection fails at once.
            let refusedStart = ContinuousClock.now
            let refused = try await http(.POST, vfx + "/predictions", json: ["input": ["video": "http://127.0.0.1:9/a.mp4"]])
            #expect(refused.object["status"] as? String == "failed")
            #expect(ContinuousClock.now - refusedStart < .seconds(2))

            // A dead webhook does not hold the sync answer (its retries go on in the background).
            let hookStart = ContinuousClock.now
            let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"], "webhook": fixture + "/down-hook"])
            #expect(r.object["status"] as? String == "succeeded")
            #expect(ContinuousClock.now - hookStart < .seconds(5))
            try await waitUntil(5) { await recorder.requests.filter { $0 == "/down-hook" }.count >= 3 }
        }
    }

    @Test func sseClientThatHangsUpCancelsItsPrediction() async throws {
        let long = try clip(seconds: 30, size: "1280x720")
        try await withServers(files: ["long.mp4": long]) { vfx, fixture, _, tmp in
            let body = #"{"input": {"video": "\#(fixture)/files/long.mp4", "output_codec": "libx264", "preset": "slow"}}"#
            let fd = try rawConnect(vfx)
            let request = "POST /predictions HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\nContent-Type: application/json\r\n"
                + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
            _ = request.withCString { send(fd, $0, strlen($0), 0) }
            var buffer = [UInt8](repeating: 0, count: 4096)
            #expect(recv(fd, &buffer, buffer.count, 0) > 0)  // the response head and the start event
            try await waitUntil(10) { try await http(.GET, vfx + "/health-check").object["status"] as? String == "BUSY" }
            close(fd)
            let hungUp = ContinuousClock.now
            try await waitUntil(5) { try await http(.GET, vfx + "/health-check").object["status"] as? String == "READY" }
            #expect(ContinuousClock.now - hungUp < .seconds(2))
            try await waitUntil(5) { tmp.contents.isEmpty }
        }
    }

    @Test func strictDataURLsElidedEchoesAndEarlyPrefixChecks() async throws {
        try await withServers { vfx, _, _, tmp in
            let bad = try await http(.POST, vfx + "/predictions", json: ["input": ["video": "data:video/mp4;base64,bm90IGEgdmlkZW8=!!"]])
            #expect(bad.object["status"] as? String == "failed")
            #expect((bad.object["error"] as? String)?.contains("strict base64") == true, "\(bad.object["error"] ?? "")")
            let payload = "data:video/mp4;base64," + Data(count: 150_000).base64EncodedString()
            let echoed = try await http(.POST, vfx + "/predictions", json: ["input": ["video": payload]])
            let video = (echoed.object["input"] as? [String: Any])?["video"] as? String ?? ""
            #expect(video.count < 200 && video.contains("elided"), "\(video.prefix(300))")
            let started = ContinuousClock.now
            let prefix = try await http(.POST, vfx + "/predictions", json: ["input": ["video": payload], "output_file_prefix": "not a url"])
            #expect(prefix.status == 422)
            #expect(ContinuousClock.now - started < .seconds(1))
            #expect(tmp.contents.isEmpty)
        }
    }

    @Test func unknownMethodsOnKnownPathsAre405() async throws {
        try await withServers { vfx, _, _, _ in
            for (method, path, allow) in [(HTTPMethod.DELETE, "/predictions", "POST"), (.GET, "/predictions/abc/cancel", "POST"),
                                          (.POST, "/health-check", "GET"), (.DELETE, "/predictions/abc", "GET, PUT")] {
                var req = HTTPClientRequest(url: vfx + path)
                req.method = method
                let r = try await HTTPClient.shared.execute(req, timeout: .seconds(10))
                #expect(r.status.code == 405, "\(method) \(path)")
                #expect(r.headers.first(name: "allow") == allow)
            }
            #expect(try await http(.GET, vfx + "/nothing-here").status == 404)
        }
    }
}

/// A plain TCP connection to a test server's base URL (http://127.0.0.1:PORT).
func rawConnect(_ base: String) throws -> Int32 {
    let port = Int(base.split(separator: ":").last!)!
    // Close-on-exec: a job process spawned meanwhile must not keep the connection open after close().
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    try #require(connected == 0, "cannot connect to \(base)")
    return fd
}

@Suite struct LogOrderTests {
    /// 20,000 lines written from the engine's thread reach the prediction's logs in order.
    @Test func logLinesKeepTheirOrder() async throws {
        let service = PredictionService(configuration: ServerConfiguration())
        let entry = try PredictionService.Entry(Prediction(id: "order", input: [:]), input: [:])
        await service.consumeLogs(entry)
        let lines = entry.work.log
        let thread = Thread { for i in 0..<20_000 { lines.yield("line \(i)") }; lines.finish() }
        thread.start()
        await entry.logTask?.value
        let logged = await service.logs(of: entry)
        #expect(logged == (0..<20_000).map { "line \($0)\n" }.joined())
    }
}

@Suite struct DownloadSlotTests {
    /// Downloads beyond --max-downloads wait their turn: never more than the permits run at once.
    @Test func theSemaphoreHoldsItsBound() async throws {
        let slots = AsyncSemaphore(2)
        let counter = Counter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<6 {
                group.addTask {
                    try await slots.withPermit {
                        await counter.enter()
                        try await Task.sleep(for: .milliseconds(50))
                        await counter.leave()
                    }
                }
            }
            try await group.waitForAll()
        }
        #expect(await counter.peak == 2)
        #expect(await counter.done == 6)
    }

    actor Counter {
        var now = 0, peak = 0, done = 0
        func enter() { now += 1; peak = max(peak, now) }
        func leave() { now -= 1; done += 1 }
    }
}
