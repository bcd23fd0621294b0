import Foundation
import Jobs
import Pipeline
import Recipe
import TestSupport
import Testing

/// A long video split across the cluster's workers (`--split-above`): chunk tasks any worker takes, a
/// stitch when the last one succeeded, against an unsplit run of the same recipe; real processes.
@Suite(.serialized, .enabled(if: TestDatabase.adminURL != nil, "needs VFX_TEST_DATABASE_URL (scripts/test starts PostgreSQL)"))
struct ClusterSplitTests {
    static let split = ["--split-above", "20", "--split-chunk-seconds", "10", "--threads", "1"] + ClusterTests.leases
    static let chain = "posterize:levels=4 | vignette | fade:in=1.5,out=2"

    /// Two workers share the six chunks of one prediction (chunk 2 failing its first attempt, retried);
    /// the stitched output equals the unsplit run (every packet time, decoded frames byte for byte with
    /// CRF 0, the audio packets); progress ends at every frame; nothing of the chunks is left.
    @Test func twoWorkersShareTheChunksOfOnePrediction() async throws {
        let db = try TestDatabase.create()
        let dir = try Scratch()
        let source = dir.path("long.mp4")
        try Media.clickTrackClip(source, seconds: 60)
        var request = ProcessRequest(input: source, output: dir.path("whole.mp4"), steps: try Chain.parse(Self.chain))
        request.recipe.settings = OutputSettings(codec: "libx264", quality: 0, audio: .keep)
        _ = try Runner(request: request).run()

        let temp1 = try Scratch(), temp2 = try Scratch()
        try await withFixture(files: ["long.mp4": try Data(contentsOf: URL(fileURLWithPath: source))]) { fixture, _ in
            let api = try NodeProcess.api(db, extra: Self.split)
            let w1 = try NodeProcess.worker(db, extra: Self.split, environment: ["VFX_TEST_CHUNK_FAULT": "2", "TMPDIR": temp1.url.path])
            let w2 = try NodeProcess.worker(db, extra: Self.split, environment: ["VFX_TEST_CHUNK_FAULT": "2", "TMPDIR": temp2.url.path])
            try await api.waitReady(); try await w1.waitReady(); try await w2.waitReady()
            let r = try await http(.PUT, api.base + "/predictions/long", json: ["input": [
                "video": fixture + "/files/long.mp4", "effects": Self.chain, "output_codec": "libx264", "crf": 0]], timeout: 300)
            #expect(r.object["status"] as? String == "succeeded", "\(r.object["error"] ?? "") \(r.object["logs"] ?? "") \(w1.log.suffix(1500))")
            let out = dir.path("split.mp4")
            let (probe, path) = try decodeOutput(r.object["output"], in: dir)
            try FileManager.default.moveItem(atPath: path, toPath: out)
            #expect(probe.video?.nb_read_frames == "1500")
            let whole = dir.path("whole.mp4")
            #expect(try StreamCheck.streams(out) == StreamCheck.streams(whole))
            #expect(try StreamCheck.packets(out) == StreamCheck.packets(whole))
            #expect(try StreamCheck.frames(out) == StreamCheck.frames(whole))
            #expect(try StreamCheck.audio(out) == StreamCheck.audio(whole))

            let metrics = r.object["metrics"] as? [String: Any] ?? [:]
            #expect(metrics["chunks"] as? Int == 6 && metrics["frames"] as? Int == 1500, "\(metrics)")
            #expect(metrics["frames_done"] as? Int == 1500 && metrics["total_frames"] as? Int == 1500, "\(metrics)")
            #expect(metrics["encoder"] as? String == "libx264", "\(metrics)")
            let logs = r.object["logs"] as? String ?? ""
            #expect(logs.contains("split into 6 chunks"), "\(logs)")
            #expect(logs.contains("chunk 2/6: a fault injected for a test") && logs.contains("chunk 2/6: attempt 2 of 3"), "\(logs)")
            let order = (1...6).compactMap { logs.range(of: "chunk \($0) of 6 (")?.lowerBound }
            #expect(order.count == 6 && order == order.sorted(), "\(logs)")
            #expect(try TestDatabase.value(db, """
                SELECT count(*) || ' ' || count(DISTINCT worker_id) FROM vfx_tasks WHERE kind = 'chunk' AND state = 'succeeded'
                """) == "6 2")
            #expect(try TestDatabase.value(db, "SELECT string_agg(kind || ':' || state, ',' ORDER BY id) FROM vfx_tasks WHERE kind <> 'chunk'")
                    == "job:succeeded,stitch:succeeded")
            #expect(try TestDatabase.value(db, "SELECT count(*) FROM vfx_chunks") == "0")
            for temp in [temp1, temp2] {
                let left = try FileManager.default.contentsOfDirectory(atPath: temp.url.path).filter { $0.hasPrefix("vfx-") && !$0.hasPrefix("vfx-node") }
                #expect(left.isEmpty, "\(left)")
            }
        }
    }

    /// A chunk that fails every attempt fails the prediction naming it and its time range; a cancel
    /// mid-job stops every chunk; neither leaves a chunk in the database.
    @Test func aFailingChunkAndACancelLeaveNothing() async throws {
        let db = try TestDatabase.create()
        let dir = try Scratch()
        let source = dir.path("long.mp4")
        try Media.clickTrackClip(source, seconds: 40)
        let data = try Data(contentsOf: URL(fileURLWithPath: source))
        let temp = try Scratch()
        try await withFixture(files: ["long.mp4": data, "hang.mp4": data]) { fixture, _ in
            let api = try NodeProcess.api(db, extra: Self.split)
            let w = try NodeProcess.worker(db, extra: Self.split + ["--concurrency", "2", "--max-attempts", "2"], hangOn: "hang.mp4",
                                           environment: ["VFX_TEST_CHUNK_FAULT": "3:always", "TMPDIR": temp.url.path])
            try await api.waitReady(); try await w.waitReady()
            let failed = try await http(.POST, api.base + "/predictions", json: ["input": ["video": fixture + "/files/long.mp4"]], timeout: 300)
            #expect(failed.object["status"] as? String == "failed")
            let error = failed.object["error"] as? String ?? ""
            #expect(error.hasPrefix("chunk 3 of 4 (") && error.contains(" s to ") && error.contains("fault injected"), "\(error)")
            try await waitUntil(20, every: 0.5) {
                (try? TestDatabase.value(db, "SELECT count(*) FROM vfx_tasks WHERE state IN ('queued', 'running')")) == "0"
            }
            #expect(try TestDatabase.value(db, "SELECT count(*) FROM vfx_chunks") == "0")

            let running = try await http(.POST, api.base + "/predictions", json: ["input": ["video": fixture + "/files/hang.mp4"]],
                                         headers: [("Prefer", "respond-async")])
            let id = try #require(running.object["id"] as? String)
            try await waitUntil(60, every: 0.5) {
                (try? TestDatabase.value(db, "SELECT count(*) FROM vfx_tasks WHERE prediction_id = '\(id)' AND kind = 'chunk' AND state = 'running'")) == "2"
            }
            #expect(try await http(.POST, api.base + "/predictions/\(id)/cancel").status == 200)
            try await waitUntil(10, every: 0.5) { (try? TestDatabase.value(db, "SELECT status FROM vfx_predictions WHERE id = '\(id)'")) == "canceled" }
            try await waitUntil(20, every: 0.5) {
                (try? TestDatabase.value(db, "SELECT count(*) FROM vfx_tasks WHERE prediction_id = '\(id)' AND state IN ('queued', 'running')")) == "0"
            }
            #expect(try TestDatabase.value(db, "SELECT count(*) FROM vfx_chunks") == "0")
            // The stopped chunks' job folders went with them.
            try await waitUntil(10, every: 0.5) { temp.contents.filter { $0.hasPrefix("vfx-") && !$0.hasPrefix("vfx-node") }.isEmpty }
        }
    }
}
