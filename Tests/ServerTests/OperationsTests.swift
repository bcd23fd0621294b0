import Foundation
import TestSupport
import Testing
@testable import VideoFXServer

/// Operating the server: metrics, the deployment files, the container file.
@Suite(.serialized, .enabled(if: TestTools.available, "needs scripts/test-tools (scripts/test runs it)"))
struct OperationsTests {
    /// `/metrics` parsed by prometheus_client's own text-format parser: name{labels} -> value.
    func scrape(_ base: String) async throws -> [String: Double] {
        let r = try await http(.GET, base + "/metrics")
        #expect(r.status == 200)
        let dir = try Scratch()
        let text = dir.path("metrics.txt")
        try r.body.write(to: URL(fileURLWithPath: text))
        let script = """
        import json, sys
        from prometheus_client.parser import text_string_to_metric_families
        out = {}
        for family in text_string_to_metric_families(open(sys.argv[1]).read()):
            for s in family.samples:
                labels = ",".join(f'{k}="{v}"' for k, v in sorted(s.labels.items()))
                out[s.name + "{" + labels + "}"] = s.value
        print(json.dumps(out))
        """
        let parsed = try sh([TestTools.path("python3"), "-c", script, text])
        try #require(parsed.status == 0, "not Prometheus text format: \(parsed.err)")
        return try JSONDecoder().decode([String: Double].self, from: Data(parsed.out.utf8))
    }

    @Test func metricsMoveAsPredictionsRun() async throws {
        let video = try clip(seconds: 1, audio: true)
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, _, _ in
            let before = try await scrape(vfx)
            #expect(before[#"vfx_predictions_total{status="succeeded"}"#] == 0)
            #expect(before["vfx_predictions_running{}"] == 0)
            // The default codec is h264_nvenc: here it falls back to libx264, which must show.
            let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"]])
            #expect(r.object["status"] as? String == "succeeded")
            _ = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/missing.mp4"]])
            let after = try await scrape(vfx)
            #expect(after[#"vfx_predictions_total{status="succeeded"}"#] == 1)
            #expect(after[#"vfx_predictions_total{status="failed"}"#] == 1)
            #expect(after["vfx_prediction_duration_seconds_count{}"] == 2)
            #expect(after["vfx_prediction_fps_count{}"] == 1)
            #expect((after["vfx_downloaded_bytes_total{}"] ?? 0) >= Double(video.count))
            #expect(after[#"vfx_encoder_fallbacks_total{requested="h264_nvenc",used="libx264"}"#] == 1)
            #expect(after[#"vfx_streams_total{decoder="h264",decoder_device="cpu",encoder="libx264",encoder_device="cpu",kind="video"}"#] == 1)
            #expect(after[#"vfx_streams_total{decoder="none",decoder_device="none",encoder="copy",encoder_device="none",kind="audio"}"#] == 1)
            // The response says the same per stream.
            let streams = (r.object["metrics"] as? [String: Any])?["streams"] as? [[String: String]]
            #expect(streams?.first == ["kind": "video", "decoder": "h264", "decoder_device": "cpu", "encoder": "libx264", "encoder_device": "cpu"])
            #expect(streams?.last?["encoder"] == "copy")
        }
    }

    @Test func webhookRetriesAndFailuresAreCounted() async throws {
        let video = try clip()
        try await withServers(files: ["a.mp4": video], configure: { $0.webhookRetries = 3 }) { vfx, fixture, recorder, _ in
            _ = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"], "webhook": fixture + "/down-hook",
                                                                    "webhook_events_filter": ["completed"]])
            try await waitUntil(10) { await recorder.requests.filter { $0 == "/down-hook" }.count == 3 }
            try await waitUntil(5) { (try await scrape(vfx))["vfx_webhook_failures_total{}"] == 1 }
            #expect(try await scrape(vfx)["vfx_webhook_retries_total{}"] == 2)
        }
    }

    @Test func uploadedBytesAreCounted() async throws {
        let video = try clip()
        try await withServers(files: ["a.mp4": video], configure: { $0.uploadURL = "FIXTURE/upload/" }) { vfx, fixture, recorder, _ in
            #expect(try await scrape(vfx)["vfx_uploaded_bytes_total{}"] == 0)
            let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4"]])
            #expect(r.object["status"] as? String == "succeeded")
            let uploaded = await recorder.uploads["output.mp4"]?.count ?? 0
            #expect(uploaded > 0)
            #expect(try await scrape(vfx)["vfx_uploaded_bytes_total{}"] == Double(uploaded))
        }
    }

    @Test func manifestsValidateStrictly() throws {
        let deploy = repositoryRoot.appendingPathComponent("deploy")
        let files = try FileManager.default.contentsOfDirectory(atPath: deploy.path).filter { $0.hasSuffix(".yaml") }.sorted()
        #expect(files == ["cluster.yaml", "deployment.yaml", "service.yaml"])
        let ok = try sh([TestTools.path("kubernetes-validate"), "--strict"] + files.map { deploy.appendingPathComponent($0).path })
        #expect(ok.status == 0, "\(ok.out) \(ok.err)")
        // The validator does validate: a misspelt field fails it.
        let dir = try Scratch()
        let broken = dir.path("broken.yaml")
        let text = try String(contentsOf: deploy.appendingPathComponent("deployment.yaml"), encoding: .utf8)
        try text.replacingOccurrences(of: "containerPort:", with: "containerPrt:").write(toFile: broken, atomically: true, encoding: .utf8)
        #expect(try sh([TestTools.path("kubernetes-validate"), "--strict", broken]).status != 0)
    }

    @Test func containerfilePassesHadolint() throws {
        let r = try sh([TestTools.path("hadolint"), repositoryRoot.appendingPathComponent("Containerfile").path])
        #expect(r.status == 0, "\(r.out) \(r.err)")
    }
}
