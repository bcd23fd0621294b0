import Foundation
import Logging
import PostgresNIO
import Queue
import Synchronization
import TestSupport
import Testing

/// The queue's SQL on a real database, without processes: claims, leases back-dated instead of waited
/// for, guarded writes, rescue, cancel, migrations.
@Suite(.serialized, .enabled(if: TestDatabase.adminURL != nil, "needs VFX_TEST_DATABASE_URL (scripts/test starts PostgreSQL)"))
struct QueueTests {
    /// Runs `body` with a queue on a fresh, migrated database.
    func withQueue(_ settings: QueueSettings = QueueSettings(), _ body: (TaskQueue, String) async throws -> Void) async throws {
        let url = try TestDatabase.create()
        let client = PostgresClient(configuration: try DatabaseURL(url).configuration(connections: 4), backgroundLogger: Logger(label: "test"))
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await client.run() }
            defer { group.cancelAll() }
            try await Migrations.apply(client, logger: Logger(label: "test"))
            try await body(TaskQueue(client: client, settings: settings, logger: Logger(label: "test")), url)
        }
    }

    func submit(_ q: TaskQueue, _ id: String) async throws {
        let p = #"{"id":"\#(id)","status":"starting","input":{},"logs":""}"#
        guard case .created = try await q.submit(id: id, status: "starting", prediction: p, job: "{}") else {
            Issue.record("not created"); return
        }
    }

    @Test func migrationsApplyOnceEvenWhenNodesStartTogether() async throws {
        let url = try TestDatabase.create()
        let clients = (0..<3).map { _ in PostgresClient(configuration: try! DatabaseURL(url).configuration(connections: 2), backgroundLogger: Logger(label: "t")) }
        let applied = try await withThrowingTaskGroup(of: [Int].self) { group -> [[Int]] in
            for c in clients { group.addTask { await c.run(); return [] } }
            var results: [[Int]] = []
            try await withThrowingTaskGroup(of: [Int].self) { migrations in
                for c in clients { migrations.addTask { try await Migrations.apply(c, logger: Logger(label: "t")) } }
                for try await r in migrations { results.append(r) }
            }
            group.cancelAll()
            return results
        }
        #expect(applied.filter { !$0.isEmpty } == [Array(1...Migrations.latest)], "\(applied)")
        #expect(try TestDatabase.value(url, "SELECT count(*) FROM vfx_schema") == "\(Migrations.latest)")
    }

    @Test func aClaimIsExclusiveAndAnExpiredLeaseIsRescued() async throws {
        var settings = QueueSettings()
        settings.maxAttempts = 2
        try await withQueue(settings) { q, url in
            try await submit(q, "p1")
            let a = try #require(try await q.claim(worker: "a"))
            #expect(a.attempt == 1 && a.predictionID == "p1")
            #expect(try await q.claim(worker: "b") == nil)
            #expect(try await q.heartbeat(a) == .held(cancelRequested: false))
            // Nothing is rescued while the lease holds.
            #expect(try await q.rescue().isEmpty)
            // Back-date the lease instead of waiting for it.
            try TestDatabase.value(url, "UPDATE vfx_tasks SET lease_until = now() - interval '1 second'")
            #expect(try await q.rescue() == [TaskQueue.Rescued(predictionID: "p1", attempts: 1, failed: false)])
            // The lost worker's writes now change nothing.
            #expect(try await q.heartbeat(a) == .lost)
            #expect(try await q.save(a, status: "processing", prediction: #"{"id":"p1","status":"processing"}"#) == false)
            #expect(try await q.finish(a, status: "succeeded", prediction: #"{"id":"p1","status":"succeeded"}"#, error: nil) == false)
            let b = try #require(try await q.claim(worker: "b"))
            #expect(b.attempt == 2)
            try TestDatabase.value(url, "UPDATE vfx_tasks SET lease_until = now() - interval '1 second'")
            // The last attempt lost: the prediction fails, saying why.
            #expect(try await q.rescue() == [TaskQueue.Rescued(predictionID: "p1", attempts: 2, failed: true)])
            let row = try #require(try await q.prediction(id: "p1"))
            #expect(row.status == "failed" && row.prediction.contains("worker lost 2 times"), "\(row.prediction)")
            #expect(try await q.claim(worker: "c") == nil)
        }
    }

    @Test func finishingTwiceWritesOnceAndCancelReachesQueuedAndRunningTasks() async throws {
        try await withQueue { q, url in
            try await submit(q, "p1")
            try await submit(q, "p2")
            let a = try #require(try await q.claim(worker: "a"))
            #expect(try await q.finish(a, status: "succeeded", prediction: #"{"id":"p1","status":"succeeded"}"#, error: nil))
            #expect(try await q.finish(a, status: "failed", prediction: #"{"id":"p1","status":"failed"}"#, error: "x") == false)
            #expect(try await q.prediction(id: "p1")?.status == "succeeded")
            // p2 waits in the queue: cancelling ends it there.
            #expect(try await q.requestCancel(id: "p2") == .cancelledQueued)
            #expect(try await q.prediction(id: "p2")?.status == "canceled")
            #expect(try await q.claim(worker: "a") == nil)
            #expect(try await q.requestCancel(id: "p1") == .alreadyFinished)
            #expect(try await q.requestCancel(id: "nope") == .unknown)
            try await submit(q, "p3")
            let c = try #require(try await q.claim(worker: "a"))
            #expect(try await q.requestCancel(id: "p3") == .signalled)
            #expect(try await q.heartbeat(c) == .held(cancelRequested: true))
            #expect(try TestDatabase.value(url, "SELECT count(*) FROM vfx_tasks") == "3")
        }
    }

    @Test func aFullQueueRefusesAndASecondSubmitOfAnIDReturnsTheFirst() async throws {
        var settings = QueueSettings()
        settings.maxQueued = 2
        try await withQueue(settings) { q, _ in
            try await submit(q, "p1")
            try await submit(q, "p2")
            guard case .full(let n) = try await q.submit(id: "p3", status: "starting", prediction: "{}", job: "{}") else {
                Issue.record("a third prediction was queued past max_queued"); return
            }
            #expect(n == 2)
            guard case .exists(let row) = try await q.submit(id: "p1", status: "starting", prediction: "{}", job: "{}") else {
                Issue.record("a second p1 was stored"); return
            }
            #expect(row.id == "p1")
        }
    }

    /// Webhooks are written with the state they report, go in order per prediction, at least once, and
    /// each prediction has exactly one terminal row, whoever ends it.
    @Test func theOutboxKeepsOrderAndOneTerminalEvent() async throws {
        var settings = QueueSettings()
        settings.maxAttempts = 1
        try await withQueue(settings) { q, url in
            let hooked = #"{"id":"p1","status":"starting","input":{},"logs":"","webhook":"http://hooks.example/h","webhook_events_filter":null}"#
            guard case .created = try await q.submit(id: "p1", status: "starting", prediction: hooked, job: "{}") else { return }
            let a = try #require(try await q.claim(worker: "a"))
            let start = OutboxEvent(event: "start", url: "http://hooks.example/h", body: #"{"status":"processing"}"#, terminal: false)
            #expect(try await q.save(a, status: "processing", prediction: #"{"id":"p1","status":"processing"}"#, event: start))
            let done = [OutboxEvent(event: "output", url: "http://hooks.example/h", body: "{}", terminal: false),
                        OutboxEvent(event: "completed", url: "http://hooks.example/h", body: "{}", terminal: true)]
            #expect(try await q.finish(a, status: "succeeded", prediction: #"{"id":"p1","status":"succeeded"}"#, error: nil, events: done))
            // A second finish (a lost lease) writes no second terminal event.
            #expect(try await q.finish(a, status: "failed", prediction: "{}", error: "x", events: done) == false)
            #expect(try TestDatabase.value(url, "SELECT string_agg(event, ',' ORDER BY id) FROM vfx_outbox") == "start,output,completed")
            // In order: only the first is claimable until it is sent.
            let first = try #require(try await q.claimWebhook(node: "n1"))
            #expect(first.event == "start" && first.attempt == 1)
            #expect(try await q.claimWebhook(node: "n2") == nil)
            // n1 dies holding it: once its claim runs out another node sends it again (at least once).
            try TestDatabase.value(url, "UPDATE vfx_outbox SET claimed_until = now() - interval '1 second' WHERE id = \(first.id)")
            let again = try #require(try await q.claimWebhook(node: "n2"))
            #expect(again.id == first.id && again.attempt == 2)
            try await q.settleWebhook(again, node: "n2", sent: true, retryAfter: nil)
            let second = try #require(try await q.claimWebhook(node: "n2"))
            #expect(second.event == "output")
            // A terminal event that failed waits its backoff, then is taken again.
            try await q.settleWebhook(second, node: "n2", sent: true, retryAfter: nil)
            let terminal = try #require(try await q.claimWebhook(node: "n2"))
            #expect(terminal.terminal)
            try await q.settleWebhook(terminal, node: "n2", sent: false, retryAfter: 30)
            #expect(try await q.claimWebhook(node: "n2") == nil)
            #expect(try await q.outboxDepth() == 1)

            // A prediction whose last worker was lost gets its one terminal webhook from the rescue.
            guard case .created = try await q.submit(id: "p2", status: "starting", prediction: hooked.replacingOccurrences(of: "p1", with: "p2"),
                                                     job: "{}") else { return }
            _ = try #require(try await q.claim(worker: "b"))
            try TestDatabase.value(url, "UPDATE vfx_tasks SET lease_until = now() - interval '1 second' WHERE prediction_id = 'p2'")
            #expect(try await q.rescue().first?.failed == true)
            #expect(try TestDatabase.value(url, "SELECT count(*) FROM vfx_outbox WHERE prediction_id = 'p2' AND terminal") == "1")
            #expect(try TestDatabase.value(url, "SELECT body->>'error' FROM vfx_outbox WHERE prediction_id = 'p2'") == "worker lost 1 time")
        }
    }

    /// A fanned-out item whose workers died too often fails alone (its result says why), and its prediction
    /// is made again from its items, which may go on.
    @Test func aLostItemFailsAloneAndItsPredictionIsRemade() async throws {
        var settings = QueueSettings()
        settings.maxAttempts = 1
        try await withQueue(settings) { q, url in
            guard case .created = try await q.submit(id: "fan", status: "starting", prediction: #"{"id":"fan","status":"starting"}"#,
                                                     job: "{}", items: 2) else { return }
            let first = try #require(try await q.claim(worker: "a"))
            let second = try #require(try await q.claim(worker: "b"))
            #expect(Set([first.item, second.item]) == [0, 1])
            try TestDatabase.value(url, "UPDATE vfx_tasks SET lease_until = now() - interval '1 second' WHERE id = \(first.task)")
            let rescued = try await q.rescue()
            #expect(rescued == [TaskQueue.Rescued(predictionID: "fan", attempts: 1, failed: true, item: first.item)])
            #expect(try await q.prediction(id: "fan")?.status == "starting", "the prediction goes on")
            let seen = Mutex<[String]>([])
            try await q.recompose("fan") { _, _, items in
                seen.withLock { $0 = items.map { "\($0.item ?? -1) \($0.state) \($0.result ?? "")" } }
                return ItemComposition(status: "processing", prediction: #"{"id":"fan","status":"processing"}"#, events: [], stopSiblings: false)
            }
            let failed = seen.withLock { $0 }.first { $0.hasPrefix("\(first.item!) failed") } ?? ""
            #expect(failed.contains("worker lost 1 time"), "\(seen.withLock { $0 })")
            #expect(try await q.prediction(id: "fan")?.status == "processing")
        }
    }

    /// A split prediction: the planning task ends and queues its chunks and a stitch that waits for the
    /// last chunk; a chunk's encoded video is kept only while its prediction runs; a retry plans it again.
    @Test func aSplitPredictionsTasksAndARetry() async throws {
        try await withQueue { q, url in
            try await submit(q, "long")
            let plan = try #require(try await q.claim(worker: "a"))
            #expect(plan.kind == .job)
            #expect(try await q.split(plan, chunks: [#"{"n":0}"#, #"{"n":1}"#], stitch: #"{"plan":1}"#,
                                      prediction: #"{"id":"long","status":"processing","logs":"planned\n"}"#, logs: "planned\n"))
            // The lease is spent: a second hand-off writes nothing.
            #expect(try await q.split(plan, chunks: [], stitch: "{}", prediction: "{}", logs: "") == false)
            let c0 = try #require(try await q.claim(worker: "a")), c1 = try #require(try await q.claim(worker: "b"))
            #expect([c0.kind, c1.kind] == [.chunk, .chunk] && Set([c0.item, c1.item]) == [0, 1] && c0.spec != nil)
            #expect(try await q.claim(worker: "c") == nil, "the stitch waits for the chunks")
            let release: TaskQueue.Composer = { _, _, items in
                let chunks = items.filter { $0.kind == .chunk }
                return ItemComposition(status: "processing", prediction: #"{"id":"long","status":"processing"}"#, events: [], stopSiblings: false,
                                       releaseStitch: chunks.allSatisfy { $0.state == "succeeded" })
            }
            #expect(try await q.writeItem(c0, state: "succeeded", result: "{}", logs: "", framesDone: 10, chunk: ByteBuffer(bytes: [1, 2, 3]),
                                          compose: release))
            #expect(try await q.claim(worker: "c") == nil)
            #expect(try await q.writeItem(c1, state: "succeeded", result: "{}", logs: "", chunk: ByteBuffer(bytes: [4]), compose: release))
            let stitch = try #require(try await q.claim(worker: "c"))
            #expect(stitch.kind == .stitch && stitch.spec == #"{"plan": 1}"#)
            var first = try #require(try await q.chunk(of: "long", index: 0))
            #expect(first.readBytes(length: first.readableBytes) == [1, 2, 3])
            #expect(try await q.finish(stitch, status: "failed", prediction: #"{"id":"long","status":"failed"}"#, error: "boom"))
            #expect(try TestDatabase.value(url, "SELECT count(*) FROM vfx_chunks") == "0", "the end takes the chunks")
            #expect(try await q.retry(id: "long"))
            #expect(try TestDatabase.value(url, "SELECT string_agg(kind || ':' || state, ',') FROM vfx_tasks") == "job:queued")
        }
    }
}
