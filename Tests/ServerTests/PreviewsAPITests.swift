import Foundation
import Testing
import TestSupport

/// `POST /previews`: one frame as a PNG, checked with ffprobe and ffmpeg.
@Suite(.serialized) struct PreviewsAPITests {
    /// Width, height and codec of a PNG, and its pixels as RGB.
    static func png(_ data: Data, in dir: Scratch) throws -> (width: Int, height: Int, codec: String, rgb: [UInt8]) {
        let path = dir.path("p-\(UUID().uuidString).png")
        try data.write(to: URL(fileURLWithPath: path))
        let probe = try Media.probe(path)
        let v = try #require(probe.streams.first)
        return (v.width ?? 0, v.height ?? 0, v.codec_name ?? "", try Media.rgbFrame(path))
    }

    @Test func aFrameWithAndWithoutTheOriginal() async throws {
        let video = try clip(seconds: 2)
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, _, tmp in
            let body: [String: Any] = ["video": fixture + "/files/a.mp4", "effects": "posterize:levels=2", "at": 1.0]
            let one = try await http(.POST, vfx + "/previews", json: body)
            #expect(one.status == 200, "\(String(decoding: one.body, as: UTF8.self))")
            let a = try Self.png(one.body, in: tmp)
            #expect(a.codec == "png" && a.width == 160 && a.height == 120)
            // Two levels: every channel is 0 or 255 (within the one step of rounding to RGB for the PNG).
            #expect(a.rgb.allSatisfy { $0 <= 1 || $0 >= 254 })
            var both = body
            both["compare"] = true
            let two = try await http(.POST, vfx + "/previews", json: both)
            let b = try Self.png(two.body, in: tmp)
            // Side by side, with a gutter between them.
            #expect(b.width > 320 && b.width < 340 && b.height == 120, "\(b.width)x\(b.height)")
            // The left half is the original: not only 0 and 255.
            #expect(b.rgb.contains { $0 > 1 && $0 < 254 })
            // Another time shows another frame (testsrc2 moves).
            var later = body
            later["at"] = 0
            #expect(try Self.png(try await http(.POST, vfx + "/previews", json: later).body, in: tmp).rgb != a.rgb)
            // Nothing left in the server's folder.
            try await waitUntil(5) { tmp.contents.filter { $0.hasPrefix("vfx-") && !$0.hasPrefix("vfx-files-") }.isEmpty }
        }
    }

    /// Fields are checked before anything is fetched, and problems name their field.
    @Test func badRequestsAreRefusedBeforeAnyDownload() async throws {
        try await withServers(files: ["a.mp4": try clip()]) { vfx, fixture, recorder, _ in
            let cases: [([String: Any], String)] = [
                (["video": fixture + "/files/a.mp4", "effects": "posterize:levels=999"], "effects"),
                (["video": fixture + "/files/a.mp4", "effects": "lut:url=/etc/passwd"], "effects"),
                (["video": fixture + "/files/a.mp4", "at": -1], "at"),
                (["video": fixture + "/files/a.mp4", "compare": "yes"], "compare"),
                (["video": "ftp://x/y.mp4"], "video"),
                (["effects": "sepia"], "video"),
                (["video": fixture + "/files/a.mp4", "seed": 3], "seed"),
            ]
            for (body, field) in cases {
                let r = try await http(.POST, vfx + "/previews", json: body)
                #expect(r.status == 422, "\(body)")
                let loc = (r.object["detail"] as? [[String: Any]])?.first?["loc"] as? [String]
                #expect(loc == ["body", field], "\(body): \(r.object)")
            }
            let fetched = await recorder.requests
            #expect(fetched.isEmpty, "fetched \(fetched)")
            #expect(try await http(.POST, vfx + "/previews", raw: "[1,2]").status == 422)
        }
    }

    /// What cannot be previewed says why, in the server's words, naming the input; limits hold.
    @Test func videosThatCannotBePreviewedSayWhy() async throws {
        try await withServers(files: ["a.mp4": try clip(), "text.mp4": Data("hello, not a video".utf8)],
                              configure: { $0.mediaLimits.maxWidth = 100 }) { vfx, fixture, _, _ in
            let text = try await http(.POST, vfx + "/previews", json: ["video": fixture + "/files/text.mp4"])
            #expect(text.status == 422)
            #expect((text.object["detail"] as? String ?? "").contains("input video"), "\(text.object)")
            let wide = try await http(.POST, vfx + "/previews", json: ["video": fixture + "/files/a.mp4"])
            #expect(wide.status == 422)
            #expect((wide.object["detail"] as? String ?? "").contains("max_width"), "\(wide.object)")
            let missing = try await http(.POST, vfx + "/previews", json: ["video": fixture + "/files/none.mp4"])
            #expect(missing.status == 422 && (missing.object["detail"] as? String ?? "").contains("404"), "\(missing.object)")
            #expect(try await http(.GET, vfx + "/health-check").object["status"] as? String == "READY")
        }
    }

    /// An upload to /files is a preview's video too.
    @Test func anUploadCanBePreviewed() async throws {
        let video = try clip()
        try await withServers(configure: { $0.allowPrivateURLs = false }) { vfx, _, _, tmp in
            let (body, type) = multipart(file: video)
            let stored = try await post(vfx + "/files", body: body, contentType: type)
            let url = try #require((stored.object["urls"] as? [String: Any])?["get"] as? String)
            let r = try await http(.POST, vfx + "/previews", json: ["video": url, "effects": "invert"])
            #expect(r.status == 200, "\(String(decoding: r.body, as: UTF8.self))")
            #expect(try Self.png(r.body, in: tmp).width == 160)
        }
    }
}
