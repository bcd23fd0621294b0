import Foundation
import TestSupport
import Testing
@testable import VideoFXServer

/// `videos`: one prediction over several inputs, with and without continue_on_error.
@Suite(.serialized) struct BatchAPITests {
    @Test func videosGiveAListInOrder() async throws {
        let a = try clip(seconds: 1), b = try clip(seconds: 2)
        try await withServers(files: ["a.mp4": a, "b.mp4": b]) { vfx, fixture, _, tmp in
            let r = try await http(.POST, vfx + "/predictions", json: ["input": [
                "videos": [fixture + "/files/a.mp4", fixture + "/files/b.mp4"], "output_codec": "libx264", "effects": "invert"]])
            #expect(r.object["status"] as? String == "succeeded", "\(r.object["error"] ?? "")")
            let outputs = try #require(r.object["output"] as? [Any])
            #expect(outputs.count == 2)
            let dir = try Scratch()
            #expect(try decodeOutput(outputs[0], in: dir).0.video?.nb_read_frames == "10")
            #expect(try decodeOutput(outputs[1], in: dir).0.video?.nb_read_frames == "20")
            let items = (r.object["metrics"] as? [String: Any])?["items"] as? [[String: Any]]
            #expect(items?.map { $0["frames"] as? Int } == [10, 20])
            let logs = r.object["logs"] as? String ?? ""
            #expect(logs.contains("item 1/2") && logs.contains("item 2/2") && logs.contains("succeeded, 20 frames"), "\(logs)")
            #expect(tmp.contents.isEmpty, "left in TMPDIR: \(tmp.contents)")
        }
    }

    @Test func aFailedItemFailsThePredictionUnlessContinueOnError() async throws {
        let a = try clip(seconds: 1)
        try await withServers(files: ["a.mp4": a]) { vfx, fixture, _, tmp in
            let urls = [fixture + "/files/a.mp4", fixture + "/files/missing.mp4", fixture + "/files/a.mp4"]
            let strict = try await http(.POST, vfx + "/predictions", json: ["input": ["videos": urls, "output_codec": "libx264"]])
            #expect(strict.object["status"] as? String == "failed")
            let error = strict.object["error"] as? String ?? ""
            #expect(error.contains("item 2/3") && error.contains("missing.mp4"), "\(error)")
            #expect(strict.object["output"] is NSNull)

            let lenient = try await http(.POST, vfx + "/predictions", json: ["input": ["videos": urls, "output_codec": "libx264", "continue_on_error": true]])
            #expect(lenient.object["status"] as? String == "succeeded", "\(lenient.object["error"] ?? "")")
            let outputs = try #require(lenient.object["output"] as? [Any])
            #expect(outputs.count == 3 && outputs[0] is String && outputs[1] is NSNull && outputs[2] is String)
            #expect((lenient.object["logs"] as? String)?.contains("item 2/3") == true)
            let items = (lenient.object["metrics"] as? [String: Any])?["items"] as? [[String: Any]]
            #expect(items?[1]["error_category"] as? String == "unavailable", "\(String(describing: items))")
            #expect(tmp.contents.isEmpty, "left in TMPDIR: \(tmp.contents)")
        }
    }

    @Test func batchLimitsAre422() async throws {
        try await withServers(configure: { $0.maxBatchItems = 3 }) { vfx, fixture, recorder, _ in
            let url = fixture + "/files/never.mp4"
            for (input, words) in [(["videos": Array(repeating: url, count: 4)], "1 to 3 items"), (["videos": [String]()], "1 to 3 items"),
                                   (["videos": [url], "video": url], "either video or videos"), (["videos": ["ftp://x/y"]], "scheme"),
                                   (["videos": "not a list"], "not a valid list")] as [([String: Any], String)] {
                let r = try await http(.POST, vfx + "/predictions", json: ["input": input])
                #expect(r.status == 422, "\(input)")
                let messages = (r.object["detail"] as? [[String: Any]])?.compactMap { $0["msg"] as? String } ?? []
                #expect(messages.contains { $0.contains(words) }, "\(messages)")
            }
            let requests = await recorder.requests
            #expect(requests.isEmpty)
        }
    }
}
