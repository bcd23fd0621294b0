import Foundation
import TestSupport
import Testing

/// Uploads in a cluster: kept in its database, so any node answers for them and the worker that runs a
/// prediction reads one; the limit on one file includes what a row holds; real processes.
@Suite(.serialized, .enabled(if: TestDatabase.adminURL != nil, "needs VFX_TEST_DATABASE_URL (scripts/test starts PostgreSQL)"))
struct ClusterFilesTests {
    @Test func anUploadToOneNodeIsReadByAnyNodeAndItsWorker() async throws {
        let db = try TestDatabase.create()
        let api1 = try NodeProcess.api(db), api2 = try NodeProcess.api(db, extra: ["--max-stored-output-mib", "1"])
        let worker = try NodeProcess.worker(db)
        try await api1.waitReady(); try await api2.waitReady(); try await worker.waitReady()
        let video = try clip(seconds: 1)
        let (body, type) = multipart(file: video)
        let r = try await post(api1.base + "/files", body: body, contentType: type)
        #expect(r.status == 201, "\(r.object)")
        let id = try #require(r.object["id"] as? String)
        let url = try #require((r.object["urls"] as? [String: Any])?["get"] as? String)
        let record = try await http(.GET, api2.base + "/files/" + id)
        #expect(record.status == 200 && record.object["size"] as? Int == video.count && record.object["name"] as? String == "clip.mp4")
        let download = try await http(.GET, api2.base + "/files/" + id + "/download")
        #expect(download.status == 200 && download.body == video)

        // A prediction taken by the other node names the upload; a worker reads it from the database.
        let p = try await http(.POST, api2.base + "/predictions", json: ["input": ["video": url, "output_codec": "libx264"]])
        #expect(p.object["status"] as? String == "succeeded", "\(p.object["error"] ?? "") \(worker.log.suffix(800))")
        let dir = try Scratch()
        #expect(try decodeOutput(p.object["output"], in: dir).0.video?.nb_read_frames == "10")

        #expect(try await http(.DELETE, api2.base + "/files/" + id).status == 204)
        #expect(try await http(.GET, api1.base + "/files/" + id).status == 404)
        #expect(try TestDatabase.value(db, "SELECT count(*) FROM vfx_files") == "0")

        // One file is at most what a row is allowed (--max-stored-output-mib), and nothing of a refused one is kept.
        let (big, bigType) = multipart(file: Data(repeating: 7, count: 2 << 20))
        let refused = try await post(api2.base + "/files", body: big, contentType: bigType)
        #expect(refused.status == 413)
        #expect((refused.object["detail"] as? String ?? "").contains("--max-stored-output-mib"), "\(refused.object)")
        #expect(try TestDatabase.value(db, "SELECT count(*) FROM vfx_files") == "0")
    }
}
