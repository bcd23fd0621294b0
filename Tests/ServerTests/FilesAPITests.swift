import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1
import Testing
import TestSupport

/// A multipart/form-data body with one file field (and any plain fields), and its Content-Type.
func multipart(_ field: String = "content", file: Data, name: String = "clip.mp4", type: String = "video/mp4",
               extra: [String: String] = [:]) -> (body: Data, contentType: String) {
    let boundary = "vfx-\(UUID().uuidString)"
    var body = Data()
    for (k, v) in extra { body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(k)\"\r\n\r\n\(v)\r\n".utf8) }
    body += Data("--\(boundary)\r\nContent-Disposition: form-data; name=\"\(field)\"; filename=\"\(name)\"\r\nContent-Type: \(type)\r\n\r\n".utf8)
    body += file
    body += Data("\r\n--\(boundary)--\r\n".utf8)
    return (body, "multipart/form-data; boundary=\(boundary)")
}

/// POSTs raw bytes with a Content-Type.
func post(_ url: String, body: Data, contentType: String) async throws -> (status: Int, object: [String: Any]) {
    var req = HTTPClientRequest(url: url)
    req.method = .POST
    req.headers.add(name: "Content-Type", value: contentType)
    req.body = .bytes(ByteBuffer(bytes: body))
    let resp = try await HTTPClient.shared.execute(req, timeout: .seconds(60))
    let data = Data(try await resp.body.collect(upTo: 1 << 24).readableBytesView)
    return (Int(resp.status.code), (try? JSONSerialization.jsonObject(with: data) as? [String: Any]) ?? [:])
}

@Suite(.serialized) struct FilesAPITests {
    @Test func uploadDescribeDownloadDelete() async throws {
        let video = try clip(seconds: 1)
        try await withServers { vfx, _, _, tmp in
            let (body, type) = multipart(file: video)
            let r = try await post(vfx + "/files", body: body, contentType: type)
            #expect(r.status == 201, "\(r.object)")
            let id = try #require(r.object["id"] as? String)
            #expect(r.object["name"] as? String == "clip.mp4")
            #expect(r.object["content_type"] as? String == "video/mp4")
            #expect(r.object["size"] as? Int == video.count)
            #expect((r.object["urls"] as? [String: Any])?["get"] as? String == vfx + "/files/" + id)
            #expect(r.object["expires_at"] as? String ?? "" > r.object["created_at"] as? String ?? "~")
            let record = try await http(.GET, vfx + "/files/" + id)
            #expect(record.status == 200 && record.object["size"] as? Int == video.count)
            let download = try await http(.GET, vfx + "/files/" + id + "/download")
            #expect(download.status == 200 && download.body == video)
            #expect(try await http(.DELETE, vfx + "/files/" + id).status == 204)
            #expect(try await http(.GET, vfx + "/files/" + id).status == 404)
            #expect(try await http(.GET, vfx + "/files/" + id + "/download").status == 404)
            #expect(try await http(.DELETE, vfx + "/files/" + id).status == 404)
            // Nothing of the file is left on disk.
            let folders = tmp.contents.filter { $0.hasPrefix("vfx-files-") }
            #expect(folders.allSatisfy { (try? FileManager.default.contentsOfDirectory(atPath: tmp.path($0)))?.isEmpty ?? true })
        }
    }

    /// A prediction names an upload's `urls.get` as its video: the server reads its own file (with
    /// private addresses refused, an outbound request to itself could not succeed).
    @Test func anUploadIsAPredictionInput() async throws {
        let video = try clip(seconds: 1, audio: true)
        try await withServers(configure: { $0.allowPrivateURLs = false }) { vfx, _, _, tmp in
            let (body, type) = multipart(file: video)
            let stored = try await post(vfx + "/files", body: body, contentType: type)
            let url = try #require((stored.object["urls"] as? [String: Any])?["get"] as? String)
            let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": url, "effect": "posterize"]])
            #expect(r.object["status"] as? String == "succeeded", "\(r.object["error"] ?? "") \(r.object["logs"] ?? "")")
            let (probe, _) = try decodeOutput(r.object["output"], in: tmp)
            #expect(probe.streams.contains { $0.codec_type == "audio" })
            #expect(probe.streams.first { $0.codec_type == "video" }?.nb_read_frames == "10")
            // The download form of the URL works too.
            // ... and `audio: false` leaves the audio out.
            let r2 = try await http(.POST, vfx + "/predictions", json: ["input": ["video": url + "/download", "effect": "none", "audio": false]])
            #expect(r2.object["status"] as? String == "succeeded", "\(r2.object["error"] ?? "")")
            let (silent, _) = try decodeOutput(r2.object["output"], in: tmp)
            #expect(!silent.streams.contains { $0.codec_type == "audio" } && silent.streams.contains { $0.codec_type == "video" })
        }
    }

    @Test func limitsAreNamedAndReleased() async throws {
        let mib = Data(repeating: 7, count: 1 << 20)
        try await withServers(configure: { $0.maxInputBytes = 3 << 19; $0.maxFilesBytes = 3 << 19 }) { vfx, _, _, tmp in
            let big = multipart(file: mib + mib)
            let tooBig = try await post(vfx + "/files", body: big.body, contentType: big.contentType)
            #expect(tooBig.status == 413)
            #expect((tooBig.object["detail"] as? String ?? "").contains("--max-input-mib"), "\(tooBig.object)")
            let one = multipart(file: mib)
            let first = try await post(vfx + "/files", body: one.body, contentType: one.contentType)
            #expect(first.status == 201)
            let second = try await post(vfx + "/files", body: one.body, contentType: one.contentType)
            #expect(second.status == 413)
            #expect((second.object["detail"] as? String ?? "").contains("--max-files-mib"), "\(second.object)")
            // Deleting frees the room; refused uploads left nothing behind.
            #expect(try await http(.DELETE, vfx + "/files/" + (first.object["id"] as? String ?? "")).status == 204)
            #expect(try await post(vfx + "/files", body: one.body, contentType: one.contentType).status == 201)
            let folder = try #require(tmp.contents.first { $0.hasPrefix("vfx-files-") })
            #expect(try FileManager.default.contentsOfDirectory(atPath: tmp.path(folder)).count == 1)
        }
    }

    @Test func filesExpire() async throws {
        try await withServers(configure: { $0.fileTTL = 1 }) { vfx, _, _, _ in
            let one = multipart(file: Data("not a video".utf8), name: "a.txt", type: "text/plain")
            let r = try await post(vfx + "/files", body: one.body, contentType: one.contentType)
            let id = try #require(r.object["id"] as? String)
            #expect(try await http(.GET, vfx + "/files/" + id).status == 200)
            try await Task.sleep(for: .milliseconds(1500))
            #expect(try await http(.GET, vfx + "/files/" + id).status == 404)
        }
    }

    /// Bodies that are not a usable upload get a 4xx that says why, and the server goes on.
    @Test func badUploadsAreRefused() async throws {
        try await withServers { vfx, _, _, _ in
            let json = try await post(vfx + "/files", body: Data("{}".utf8), contentType: "application/json")
            #expect(json.status == 415 && (json.object["detail"] as? String ?? "").contains("'content'"))
            let noBoundary = try await post(vfx + "/files", body: Data("x".utf8), contentType: "multipart/form-data")
            #expect(noBoundary.status == 415)
            let other = multipart("video", file: Data("x".utf8))
            let wrongField = try await post(vfx + "/files", body: other.body, contentType: other.contentType)
            #expect(wrongField.status == 422 && (wrongField.object["detail"] as? String ?? "").contains("no field 'content'"))
            let whole = multipart(file: Data(repeating: 1, count: 1000))
            let cut = try await post(vfx + "/files", body: whole.body.prefix(600), contentType: whole.contentType)
            #expect(cut.status == 400, "\(cut.object)")
            let garbage = try await post(vfx + "/files", body: Data("garbage without any boundary".utf8), contentType: whole.contentType)
            #expect((400..<500).contains(garbage.status))
            #expect(try await http(.GET, vfx + "/health-check").object["status"] as? String == "READY")
            #expect(try await http(.GET, vfx + "/files/nope").status == 404)
            #expect(try await http(.PUT, vfx + "/files").status == 405)
        }
    }
}
