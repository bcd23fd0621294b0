import Foundation
import ErrorTaxonomy
import Jobs
import TestSupport
import Testing
@testable import VideoFXServer

/// Records what the service asks of its store, over the memory store.
actor RecordingStore: PredictionStore {
    let inner = MemoryPredictionStore(keepFinished: 100, keepFinishedBytes: 1 << 20)
    var inserted: [String] = []
    var statuses: [String] = []

    func insert(_ p: Prediction) async throws -> Prediction? {
        inserted.append(p.id)
        return await inner.insert(p)
    }
    func prediction(id: String) async throws -> Prediction? { await inner.prediction(id: id) }
    func update(_ p: Prediction) async throws {
        if statuses.last != p.status.rawValue { statuses.append(p.status.rawValue) }
        await inner.update(p)
    }
}

/// The service keeps predictions in the store it is given: what a node answers comes from there.
@Suite(.serialized) struct PredictionStoreTests {
    @Test func aPredictionGoesThroughTheStore() async throws {
        let a = try clip(seconds: 1)
        let store = RecordingStore()
        try await withServers(files: ["a.mp4": a], store: store) { vfx, fixture, _, _ in
            let r = try await http(.PUT, vfx + "/predictions/stored-1", json: ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264"]])
            #expect(r.object["status"] as? String == "succeeded", "\(r.object["error"] ?? "")")
            #expect(await store.inserted == ["stored-1"])
            #expect(await store.statuses == ["processing", "succeeded"])
            let kept = try #require(try await store.prediction(id: "stored-1"))
            #expect(kept.status == .succeeded && kept.logs.contains("frame 10/10"), "\(kept.logs)")
            let got = try await http(.GET, vfx + "/predictions/stored-1")
            #expect(got.status == 200 && got.object["status"] as? String == "succeeded")
        }
    }

    /// A prediction another node stored (finished there, or running there) is answered, never run again.
    @Test func aStoredPredictionIsAnsweredNotRun() async throws {
        let store = RecordingStore()
        var done = Prediction(id: "elsewhere-1", input: ["video": "https://example.com/v.mp4"])
        done.status = .succeeded
        done.output = .string("https://cdn.example/out.mp4")
        var running = Prediction(id: "elsewhere-2", input: ["video": "https://example.com/v.mp4"])
        running.status = .processing
        _ = try await store.insert(done)
        _ = try await store.insert(running)
        try await withServers(store: store) { vfx, fixture, recorder, _ in
            let body: [String: Any] = ["input": ["video": fixture + "/files/a.mp4"]]
            let put = try await http(.PUT, vfx + "/predictions/elsewhere-1", json: body)
            #expect(put.status == 200 && put.object["output"] as? String == "https://cdn.example/out.mp4")
            let other = try await http(.PUT, vfx + "/predictions/elsewhere-2", json: body)
            #expect(other.status == 202 && other.object["status"] as? String == "processing")
            let got = try await http(.GET, vfx + "/predictions/elsewhere-2")
            #expect(got.status == 200 && got.object["status"] as? String == "processing")
            let requests = await recorder.requests
            #expect(requests.isEmpty, "nothing was downloaded: \(requests)")
            #expect(await store.inserted == ["elsewhere-1", "elsewhere-2"])
        }
    }

    @Test func retryPolicyFollowsTheCategories() {
        let policy = RetryPolicy(retries: 2, backoff: 0.5)
        struct Transient: Error, CategorizedError { var category: ErrorCategory { .transient } }
        struct Bad: Error, CategorizedError { var category: ErrorCategory { .invalidInput } }
        #expect(policy.delay(after: Transient(), attempt: 1) == 0.5)
        #expect(policy.delay(after: Transient(), attempt: 2) == 1.0)
        #expect(policy.delay(after: Transient(), attempt: 3) == nil)
        #expect(policy.delay(after: Bad(), attempt: 1) == nil)
        #expect(policy.delay(after: CancellationError(), attempt: 1) == nil)
    }

    /// A `videos` item whose download fails for a transient reason (503) is tried again, as `vfx batch` does.
    @Test func aTransientItemFailureIsRetried() async throws {
        let a = try clip(seconds: 1)
        try await withServers(files: ["a.mp4": a]) { vfx, fixture, recorder, tmp in
            let r = try await http(.POST, vfx + "/predictions", json: ["input": [
                "videos": [fixture + "/files/a.mp4", fixture + "/flaky-files/a.mp4"], "output_codec": "libx264"]])
            #expect(r.object["status"] as? String == "succeeded", "\(r.object["error"] ?? "")")
            let logs = r.object["logs"] as? String ?? ""
            #expect(logs.contains("item 2/2") && logs.contains("HTTP 503") && logs.contains("trying again"), "\(logs)")
            #expect(await recorder.requests.filter { $0 == "/flaky-files/a.mp4" }.count == 2)
            let items = (r.object["metrics"] as? [String: Any])?["items"] as? [[String: Any]]
            #expect(items?.map { $0["frames"] as? Int } == [10, 10])
            #expect(tmp.contents.isEmpty, "left in TMPDIR: \(tmp.contents)")
        }
    }
}
