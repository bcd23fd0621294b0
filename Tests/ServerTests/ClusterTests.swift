import Foundation
import TestSupport
import Testing

/// Predictions queued in PostgreSQL, with real `vfx-server` processes as API nodes and workers.
@Suite(.serialized, .enabled(if: TestDatabase.adminURL != nil, "needs VFX_TEST_DATABASE_URL (scripts/test starts PostgreSQL)"))
struct ClusterTests {
    /// Short leases so that a lost worker is noticed in seconds (not so short that a busy 2-core machine
    /// delays a heartbeat past one).
    static let leases = ["--lease-seconds", "5", "--heartbeat-seconds", "1"]

    @Test func aPredictionTakenByOneNodeRunsOnAWorkerAndAnyNodeAnswersIt() async throws {
        let db = try TestDatabase.create()
        let video = try clip(seconds: 1)
        try await withFixture(files: ["a.mp4": video]) { fixture, _ in
            let api1 = try NodeProcess.api(db), api2 = try NodeProcess.api(db)
            let worker = try NodeProcess.worker(db, extra: Self.leases)
            try await api1.waitReady(); try await api2.waitReady(); try await worker.waitReady()
            let input: [String: Any] = ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264", "effects": "invert"]]
            let r = try await http(.PUT, api1.base + "/predictions/cluster-one", json: input)
            #expect(r.status == 200 && r.object["status"] as? String == "succeeded", "\(r.object) \(worker.log.suffix(1500))")
            let dir = try Scratch()
            #expect(try decodeOutput(r.object["output"], in: dir).0.video?.nb_read_frames == "10")
            // The other node answers it from the database, and a PUT of the same id there runs nothing again.
            let got = try await http(.GET, api2.base + "/predictions/cluster-one")
            #expect(got.status == 200 && got.object["status"] as? String == "succeeded")
            let again = try await http(.PUT, api2.base + "/predictions/cluster-one", json: input)
            #expect(again.status == 200 && again.object["status"] as? String == "succeeded")
            #expect(try TestDatabase.value(db, "SELECT count(*) FROM vfx_tasks") == "1")
            #expect(try TestDatabase.value(db, "SELECT attempts FROM vfx_tasks") == "1")
            // The worker's /metrics: the queue by state (after its next heartbeat) and its claim's wait.
            try await waitUntil(20, every: 0.5) {
                String(decoding: try await http(.GET, worker.base + "/metrics").body, as: UTF8.self).contains(#"vfx_queue_tasks{state="succeeded"} 1"#)
            }
            let metrics = String(decoding: try await http(.GET, worker.base + "/metrics").body, as: UTF8.self)
            #expect(metrics.contains("vfx_queue_wait_seconds_count 1") && metrics.contains(#"vfx_predictions_total{status="succeeded"} 1"#),
                    "\(metrics)")
        }
    }

    /// The same id sent to two nodes at once makes one prediction.
    @Test func oneIDSentToTwoNodesAtOnceIsOnePrediction() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["a.mp4": try clip(seconds: 1)]) { fixture, _ in
            let api1 = try NodeProcess.api(db), api2 = try NodeProcess.api(db)
            try await api1.waitReady(); try await api2.waitReady()
            let input = #"{"input": {"video": "\#(fixture)/files/a.mp4"}}"#
            async let a = http(.PUT, api1.base + "/predictions/twice", raw: input, headers: [("Prefer", "respond-async")])
            async let b = http(.PUT, api2.base + "/predictions/twice", raw: input, headers: [("Prefer", "respond-async")])
            let (ra, rb) = try await (a, b)
            #expect(ra.status == 202 && rb.status == 202, "\(ra.object) \(rb.object)")
            #expect(try TestDatabase.value(db, "SELECT count(*) FROM vfx_predictions") == "1")
            #expect(try TestDatabase.value(db, "SELECT count(*) FROM vfx_tasks") == "1")
        }
    }

    /// A worker killed with SIGKILL mid-job: another worker runs the job again after the lease expires;
    /// one output, attempt 2 recorded, one completed webhook.
    @Test func aKilledWorkersJobCompletesOnAnother() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["long.mp4": try clip(seconds: 5)]) { fixture, recorder in
            let api = try NodeProcess.api(db, extra: Self.leases)
            // Its job hangs (the test fault switch) until the worker is killed.
            let first = try NodeProcess.worker(db, extra: Self.leases, hangOn: "long.mp4")
            try await api.waitReady(); try await first.waitReady()
            let r = try await http(.POST, api.base + "/predictions", json: ["input": ["video": fixture + "/files/long.mp4", "output_codec": "libx264",
                                                                                        "preset": "slow"], "webhook": fixture + "/hook",
                                                                                        "webhook_events_filter": ["completed"]],
                                   headers: [("Prefer", "respond-async")])
            let id = try #require(r.object["id"] as? String, "\(r.object)")
            try await waitUntil(30, every: 0.5) { (try? TestDatabase.value(db, "SELECT status FROM vfx_predictions WHERE id = '\(id)'")) == "processing" }
            first.signal(SIGKILL)
            let second = try NodeProcess.worker(db, extra: Self.leases)
            try await second.waitReady()
            try await waitUntil(120, every: 0.5) {
                let p = try await http(.GET, api.base + "/predictions/" + id)
                return ["succeeded", "failed", "canceled"].contains(p.object["status"] as? String ?? "")
            }
            let p = try await http(.GET, api.base + "/predictions/" + id)
            #expect(p.object["status"] as? String == "succeeded", "\(p.object["error"] ?? "") \(second.log.suffix(1500))")
            #expect(try TestDatabase.value(db, "SELECT attempts FROM vfx_tasks") == "2")
            #expect((p.object["logs"] as? String)?.contains("attempt 2 of 3") == true)
            let dir = try Scratch()
            #expect(try decodeOutput(p.object["output"], in: dir).0.video?.nb_read_frames == "50")
            try await waitUntil(10, every: 0.5) { await recorder.hookCount >= 1 }
            try await Task.sleep(for: .seconds(1))
            #expect(await recorder.statuses == ["succeeded"])
        }
    }

    /// A worker stopped with SIGSTOP past its lease and then resumed writes nothing: the job it held
    /// was rescued and finished by another worker, and that result stays.
    @Test func aStoppedWorkerThatResumesWritesNothing() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["long.mp4": try clip(seconds: 5)]) { fixture, _ in
            let api = try NodeProcess.api(db, extra: Self.leases)
            let paused = try NodeProcess.worker(db, extra: Self.leases, hangOn: "long.mp4")
            try await api.waitReady(); try await paused.waitReady()
            let r = try await http(.POST, api.base + "/predictions", json: ["input": ["video": fixture + "/files/long.mp4", "output_codec": "libx264",
                                                                                        "preset": "slow"]],
                                   headers: [("Prefer", "respond-async")])
            let id = try #require(r.object["id"] as? String)
            try await waitUntil(30, every: 0.5) { (try? TestDatabase.value(db, "SELECT status FROM vfx_predictions WHERE id = '\(id)'")) == "processing" }
            paused.signal(SIGSTOP)
            let other = try NodeProcess.worker(db, extra: Self.leases)
            try await other.waitReady()
            try await waitUntil(120, every: 0.5) { (try? TestDatabase.value(db, "SELECT status FROM vfx_predictions")) == "succeeded" }
            let done = try TestDatabase.value(db, "SELECT prediction::text || updated_at::text FROM vfx_predictions")
            paused.signal(SIGCONT)
            // Its next heartbeat finds the lease gone; it stops the job and writes nothing.
            try await waitUntil(20, every: 0.5) { paused.log.contains("lease of prediction \(id) lost") || paused.log.contains("nothing written") }
            try await Task.sleep(for: .seconds(3))
            #expect(try TestDatabase.value(db, "SELECT prediction::text || updated_at::text FROM vfx_predictions") == done)
            #expect(try TestDatabase.value(db, "SELECT attempts FROM vfx_tasks") == "2")
            #expect(await paused.wait(seconds: 0.1) == nil, "the paused worker lives on: \(paused.log.suffix(1000))")
        }
    }

    /// Cancel on another node than the one that took it: the worker stops within seconds; a queued
    /// prediction never starts.
    /// `GET /queue` on an API node: tasks by state and each worker with the prediction it runs (what the
    /// playground's queue panel shows); a server without a database answers 404.
    @Test func theQueueCanBeAskedOverHTTP() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["long.mp4": try clip(seconds: 5)]) { fixture, _ in
            let api = try NodeProcess.api(db), worker = try NodeProcess.worker(db, hangOn: "long.mp4")
            try await api.waitReady(); try await worker.waitReady()
            let body: [String: Any] = ["input": ["video": fixture + "/files/long.mp4", "output_codec": "libx264"]]
            let running = try await http(.POST, api.base + "/predictions", json: body, headers: [("Prefer", "respond-async")])
            let id = try #require(running.object["id"] as? String)
            try await waitUntil(30, every: 0.5) { (try? TestDatabase.value(db, "SELECT status FROM vfx_predictions WHERE id = '\(id)'")) == "processing" }
            let q = try await http(.GET, api.base + "/queue")
            #expect(q.status == 200)
            #expect((q.object["tasks"] as? [String: Any])?["running"] as? Int == 1, "\(q.object)")
            let workers = try #require(q.object["workers"] as? [[String: Any]])
            #expect(workers.count == 1 && (workers.first?["running"] as? [String]) == [id], "\(workers)")
            #expect((workers.first?["heartbeat_age_seconds"] as? Double ?? 99) < 15)
            #expect(try await http(.POST, api.base + "/predictions/\(id)/cancel").status == 200)
        }
        try await withServers { vfx, _, _, _ in
            let none = try await http(.GET, vfx + "/queue")
            #expect(none.status == 404)
        }
    }

    @Test func cancelOnAnyNode() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["long.mp4": try clip(seconds: 5)]) { fixture, _ in
            let api1 = try NodeProcess.api(db), api2 = try NodeProcess.api(db)
            try await api1.waitReady(); try await api2.waitReady()
            let body: [String: Any] = ["input": ["video": fixture + "/files/long.mp4", "output_codec": "libx264", "preset": "slow"]]
            // No worker yet: it waits in the queue, and cancelling it there ends it at once.
            let queued = try await http(.POST, api1.base + "/predictions", json: body, headers: [("Prefer", "respond-async")])
            let q = try #require(queued.object["id"] as? String)
            #expect(try await http(.POST, api2.base + "/predictions/\(q)/cancel").status == 200)
            #expect(try await http(.GET, api1.base + "/predictions/" + q).object["status"] as? String == "canceled")

            // Its job hangs (the test fault switch) until cancelled.
            let worker = try NodeProcess.worker(db, hangOn: "long.mp4")
            try await worker.waitReady()
            let running = try await http(.POST, api1.base + "/predictions", json: body, headers: [("Prefer", "respond-async")])
            let id = try #require(running.object["id"] as? String)
            try await waitUntil(30, every: 0.5) { (try? TestDatabase.value(db, "SELECT status FROM vfx_predictions WHERE id = '\(id)'")) == "processing" }
            let asked = Date()
            #expect(try await http(.POST, api2.base + "/predictions/\(id)/cancel").status == 200)
            try await waitUntil(10, every: 0.5) { (try? TestDatabase.value(db, "SELECT status FROM vfx_predictions WHERE id = '\(id)'")) == "canceled" }
            #expect(Date().timeIntervalSince(asked) < 4, "cancel took \(Date().timeIntervalSince(asked)) s")
            #expect(try TestDatabase.value(db, "SELECT state FROM vfx_tasks ORDER BY id") == "canceled\ncanceled")
        }
    }

    /// A node given a URL it cannot use, or a database that does not exist, exits non-zero with a
    /// message naming it; a node whose database is away says so on /health-check, and becomes READY
    /// once the database is there.
    @Test func badMissingAndLateDatabases() async throws {
        let bad = try sh([builtBinary("vfx-server"), "--database", "mysql://x@y/z"])
        #expect(bad.status != 0 && bad.err.contains("mysql://x@y/z") && bad.err.contains("postgres://"), "\(bad.err)")
        let admin = try #require(TestDatabase.adminURL)
        let missing = try NodeProcess.api(admin.replacingOccurrences(of: "/postgres", with: "/no_such_database"))
        let status = await missing.wait(seconds: 20)
        #expect(status == 1 && missing.log.contains("no_such_database"), "\(String(describing: status)) \(missing.log.suffix(800))")

        // Nothing listens on the port yet: the node waits, UNHEALTHY, naming the database.
        let port = NodeProcess.freePort()
        let late = try NodeProcess.api("postgres://vfx@127.0.0.1:\(port)/postgres")
        try await waitUntil(20, every: 0.5) {
            let h = try? await http(.GET, late.base + "/health-check", timeout: 2)
            return h?.object["status"] as? String == "UNHEALTHY" && (h?.object["reason"] as? String ?? "").contains("not usable")
        }
        let health = try await http(.GET, late.base + "/health-check")
        #expect((health.object["reason"] as? String ?? "").contains("127.0.0.1:\(port)"), "\(health.object)")
        // A PostgreSQL server starts on that port: the node connects, migrates and is READY by itself.
        let folder = try Scratch()
        let pg = repositoryRoot.appendingPathComponent("scripts/pg").path
        let env = ["env", "VFX_PG_DIR=\(folder.path("pg"))", "VFX_PG_PORT=\(port)", pg]
        defer { _ = try? sh(env + ["stop"]) }
        let started = try sh(env + ["start"])
        try #require(started.status == 0, "\(started.err)")
        try await late.waitReady(seconds: 30)
    }

    /// The listener's connection is terminated by the server: work is still picked up and waited for.
    @Test func aTerminatedListenerDoesNotStopWork() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["a.mp4": try clip(seconds: 1)]) { fixture, _ in
            let api = try NodeProcess.api(db), worker = try NodeProcess.worker(db)
            try await api.waitReady(); try await worker.waitReady()
            let name = String(db.split(separator: "/").last!)
            let killed = try TestDatabase.value(db, """
                SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '\(name)' AND query LIKE 'LISTEN%'
                """)
            #expect(killed == "2", "listeners terminated: \(killed)")
            let r = try await http(.POST, api.base + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264"]])
            #expect(r.object["status"] as? String == "succeeded", "\(r.object) \(worker.log.suffix(1000))")
        }
    }

    /// PostgreSQL restarted while a prediction runs: the nodes reconnect and the prediction completes,
    /// once, and the API node is READY again.
    @Test func aRestartedDatabaseLosesNothing() async throws {
        let folder = try Scratch()
        let port = NodeProcess.freePort()
        let env = ["env", "VFX_PG_DIR=\(folder.path("pg"))", "VFX_PG_PORT=\(port)", repositoryRoot.appendingPathComponent("scripts/pg").path]
        defer { _ = try? sh(env + ["stop"]) }
        let started = try sh(env + ["start"])
        try #require(started.status == 0, "\(started.err)")
        let db = started.out.trimmingCharacters(in: .whitespacesAndNewlines)
        try await withFixture(files: ["long.mp4": try clip(seconds: 20, size: "640x360")]) { fixture, _ in
            let api = try NodeProcess.api(db), worker = try NodeProcess.worker(db)
            try await api.waitReady(); try await worker.waitReady()
            let r = try await http(.POST, api.base + "/predictions", json: ["input": ["video": fixture + "/files/long.mp4", "output_codec": "libx264",
                                                                                        "preset": "slow"]],
                                   headers: [("Prefer", "respond-async")])
            let id = try #require(r.object["id"] as? String)
            try await waitUntil(30, every: 0.5) { (try? TestDatabase.value(db, "SELECT status FROM vfx_predictions")) == "processing" }
            let restarted = try sh(env + ["restart"])
            try #require(restarted.status == 0, "\(restarted.err)")
            try await waitUntil(120, every: 0.5) {
                let p = try? await http(.GET, api.base + "/predictions/" + id, timeout: 5)
                return ["succeeded", "failed", "canceled"].contains(p?.object["status"] as? String ?? "")
            }
            let p = try await http(.GET, api.base + "/predictions/" + id)
            #expect(p.object["status"] as? String == "succeeded", "\(p.object["error"] ?? "") \(worker.log.suffix(1500))")
            #expect(try TestDatabase.value(db, "SELECT count(*) FROM vfx_tasks") == "1")
            try await api.waitReady(seconds: 10)
        }
    }

    /// SIGTERM: a worker stops claiming, lets its job run for the grace period, hands it back uncounted
    /// and exits 0; another worker runs it as its first attempt.
    @Test func aWorkerStoppedWithSIGTERMHandsItsJobBack() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["long.mp4": try clip(seconds: 5)]) { fixture, _ in
            let api = try NodeProcess.api(db)
            let first = try NodeProcess.worker(db, extra: ["--shutdown-grace", "1"], hangOn: "long.mp4")
            try await api.waitReady(); try await first.waitReady()
            let r = try await http(.POST, api.base + "/predictions", json: ["input": ["video": fixture + "/files/long.mp4", "output_codec": "libx264",
                                                                                        "preset": "slow"]],
                                   headers: [("Prefer", "respond-async")])
            let id = try #require(r.object["id"] as? String)
            try await waitUntil(30, every: 0.5) { (try? TestDatabase.value(db, "SELECT status FROM vfx_predictions WHERE id = '\(id)'")) == "processing" }
            first.signal(SIGTERM)
            #expect(await first.wait(seconds: 20) == 0, "\(first.log.suffix(1000))")
            let handedBack = try TestDatabase.value(db, "SELECT state || ' ' || attempts FROM vfx_tasks")
            #expect(handedBack == "queued 0", "\(handedBack): \(first.log.suffix(1500))")
            let second = try NodeProcess.worker(db)
            try await second.waitReady()
            try await waitUntil(120, every: 0.5) { (try? TestDatabase.value(db, "SELECT status FROM vfx_predictions")) == "succeeded" }
            #expect(try TestDatabase.value(db, "SELECT attempts FROM vfx_tasks") == "1")
            #expect(try await http(.GET, api.base + "/predictions/" + id).object["status"] as? String == "succeeded")
        }
    }

    /// One API node and three workers through 30 mixed predictions: sync, async with webhooks, cancelled,
    /// failing inputs and a `videos` batch each end in their right state, once, with one `completed`
    /// webhook each.
    @Test func thirtyMixedPredictionsEachEndOnce() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["a.mp4": try clip(seconds: 1), "b.mp4": try clip(seconds: 2),
                                      "long.mp4": try clip(seconds: 5), "bad.mp4": Data("not a video".utf8)]) { fixture, recorder in
            let api = try NodeProcess.api(db)
            // The long ones hang until cancelled (the test fault switch).
            let workers = try (0..<3).map { _ in try NodeProcess.worker(db, hangOn: "long.mp4") }
            try await api.waitReady()
            for w in workers { try await w.waitReady() }
            var expected: [String: String] = [:]
            let hook = fixture + "/hook"
            try await withThrowingTaskGroup(of: (String, String, Int).self) { group in
                for i in 0..<30 {
                    let kind = i % 6
                    group.addTask {
                        let id = "mixed-\(i)"
                        var input: [String: Any] = ["video": fixture + "/files/a.mp4", "output_codec": "libx264"]
                        var want = "succeeded"
                        switch kind {
                        case 1: input["video"] = fixture + "/files/bad.mp4"; want = "failed"
                        case 2: input["video"] = fixture + "/files/missing.mp4"; want = "failed"
                        case 3: input.removeValue(forKey: "video"); input["videos"] = [fixture + "/files/a.mp4", fixture + "/files/b.mp4"]
                        case 4: input["video"] = fixture + "/files/long.mp4"; input["preset"] = "slow"; want = "canceled"
                        default: break
                        }
                        let body: [String: Any] = ["input": input, "webhook": hook, "webhook_events_filter": ["completed"]]
                        if kind == 5 {
                            // Sync: the API node waits for whichever worker runs it.
                            let r = try await http(.PUT, api.base + "/predictions/" + id, json: body)
                            return (id, want, r.status)
                        }
                        let r = try await http(.PUT, api.base + "/predictions/" + id, json: body, headers: [("Prefer", "respond-async")])
                        if kind == 4 {
                            // Queued or already running, it ends cancelled.
                            try await Task.sleep(for: .milliseconds(200 * i))
                            _ = try await http(.POST, api.base + "/predictions/\(id)/cancel")
                        }
                        return (id, want, r.status)
                    }
                }
                for try await (id, want, status) in group {
                    expected[id] = want
                    #expect(status == 200 || status == 202, "\(id): HTTP \(status)")
                }
            }
            try await waitUntil(180, every: 0.5) {
                (try? TestDatabase.value(db, "SELECT count(*) FROM vfx_predictions WHERE finished_at IS NOT NULL")) == "30"
            }
            for (id, want) in expected {
                let p = try await http(.GET, api.base + "/predictions/" + id)
                #expect(p.object["status"] as? String == want, "\(id): \(p.object["status"] ?? "") \(p.object["error"] ?? "")")
                if id.hasSuffix("-3") || id.hasSuffix("-9") {
                    #expect((p.object["output"] as? [Any])?.count == 2, "\(id)")
                }
            }
            // Exactly one completed webhook each.
            try await waitUntil(60, every: 0.5) { await recorder.hookCount >= 30 }
            try await Task.sleep(for: .seconds(2))
            let ids = await recorder.hookIDs
            #expect(ids.count == 30 && Set(ids).count == 30, "\(ids.sorted())")
            #expect(try TestDatabase.value(db, "SELECT count(*) FROM vfx_tasks WHERE attempts > 1") == "0")
        }
    }

    /// A job whose process crashes every time fails after --max-attempts with the reason, and the worker
    /// goes on serving.
    @Test func aJobThatCrashesEveryTimeFailsAfterItsAttempts() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["crash.mp4": try clip(seconds: 1), "a.mp4": try clip(seconds: 1)]) { fixture, _ in
            let api = try NodeProcess.api(db, extra: ["--max-attempts", "2"])
            let worker = try NodeProcess.worker(db, extra: ["--max-attempts", "2"], crashOn: "crash.mp4")
            try await api.waitReady(); try await worker.waitReady()
            let r = try await http(.POST, api.base + "/predictions", json: ["input": ["video": fixture + "/files/crash.mp4", "output_codec": "libx264"]])
            #expect(r.object["status"] as? String == "failed", "\(r.object)")
            let error = r.object["error"] as? String ?? ""
            #expect(error.contains("crashed") && error.contains("attempt 2 of 2"), "\(error)")
            #expect(try TestDatabase.value(db, "SELECT state || ' ' || attempts FROM vfx_tasks") == "failed 2")
            let ok = try await http(.POST, api.base + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264"]])
            #expect(ok.object["status"] as? String == "succeeded", "\(ok.object["error"] ?? "")")
        }
    }

    /// `vfx queue` and `vfx workers`: stats, list, inspect, retry, cancel and prune, each with --json.
    @Test func operatorsSeeAndSteerTheQueue() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["a.mp4": try clip(seconds: 1)]) { fixture, _ in
            let api = try NodeProcess.api(db), worker = try NodeProcess.worker(db)
            try await api.waitReady(); try await worker.waitReady()
            let ok = try await http(.PUT, api.base + "/predictions/ops-ok", json: ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264"]])
            let bad = try await http(.PUT, api.base + "/predictions/ops-bad", json: ["input": ["video": fixture + "/files/missing.mp4"]])
            #expect(ok.object["status"] as? String == "succeeded" && bad.object["status"] as? String == "failed")
            func vfx(_ args: [String]) throws -> (status: Int32, json: Any?, out: String, err: String) {
                let r = try sh([builtBinary("vfx")] + args + ["--database", db])
                return (r.status, try? JSONSerialization.jsonObject(with: Data(r.out.utf8)), r.out, r.err)
            }
            let stats = try vfx(["queue", "stats", "--json"])
            let tasks = (stats.json as? [String: Any])?["tasks"] as? [String: Int]
            #expect(tasks?["succeeded"] == 1 && tasks?["failed"] == 1, "\(stats.out) \(stats.err)")
            let list = try vfx(["queue", "list", "--json"])
            #expect(Set(((list.json as? [[String: Any]]) ?? []).compactMap { $0["id"] as? String }) == ["ops-ok", "ops-bad"], "\(list.out)")
            let inspect = try vfx(["queue", "inspect", "ops-bad", "--json"])
            let rows = (inspect.json as? [String: Any])?["tasks"] as? [[String: Any]]
            #expect(rows?.first?["attempts"] as? Int == 1 && (rows?.first?["worker"] as? String)?.isEmpty == false, "\(inspect.out)")
            let workers = try vfx(["workers", "--json"])
            #expect((workers.json as? [[String: Any]])?.count == 1, "\(workers.out) \(workers.err)")
            // Retry queues the failed one again; it runs (and fails again: the file is still missing).
            #expect(try vfx(["queue", "retry", "ops-bad"]).status == 0)
            #expect(try vfx(["queue", "retry", "ops-ok"]).status != 0)
            try await waitUntil(30, every: 0.5) {
                (try? TestDatabase.value(db, "SELECT status || ' ' || (SELECT attempts FROM vfx_tasks WHERE prediction_id = 'ops-bad') FROM vfx_predictions WHERE id = 'ops-bad'")) == "failed 1"
            }
            let unknown = try vfx(["queue", "cancel", "nope"])
            #expect(unknown.status != 0 && unknown.err.contains("nope"), "\(unknown.err)")
            let pruned = try vfx(["queue", "prune", "--older-than", "0", "--json"])
            #expect((pruned.json as? [String: Any])?["removed"] as? Int == 2, "\(pruned.out) \(pruned.err)")
            #expect(try TestDatabase.value(db, "SELECT count(*) FROM vfx_tasks") == "0")
        }
    }

    /// An API node restarted between an async submit and the prediction's end: the prediction completes on
    /// its worker, its webhook arrives, and another API node sees it all along. SSE works from any node.
    @Test func anAPINodeRestartLosesNothingAndAnyNodeStreams() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["long.mp4": try clip(seconds: 5), "a.mp4": try clip(seconds: 1)]) { fixture, recorder in
            var api1: NodeProcess? = try NodeProcess.api(db)
            let api2 = try NodeProcess.api(db)
            try await api1!.waitReady(); try await api2.waitReady()
            let r = try await http(.POST, api1!.base + "/predictions", json: ["input": ["video": fixture + "/files/long.mp4", "output_codec": "libx264"],
                                                                            "webhook": fixture + "/hook", "webhook_events_filter": ["completed"]],
                                   headers: [("Prefer", "respond-async")])
            let id = try #require(r.object["id"] as? String)
            api1!.signal(SIGKILL)
            api1 = nil
            #expect(try await http(.GET, api2.base + "/predictions/" + id).object["status"] as? String == "starting")
            // Only now a worker starts: the prediction waited in the database, not in the dead node.
            let worker = try NodeProcess.worker(db)
            try await worker.waitReady()
            try await waitUntil(60, every: 0.5) {
                (try await http(.GET, api2.base + "/predictions/" + id)).object["status"] as? String == "succeeded"
            }
            try await waitUntil(20, every: 0.5) { await recorder.hookCount == 1 }
            #expect(await recorder.statuses == ["succeeded"])
            // Server-sent events from a node that did not take the request's work.
            let sse = try await http(.POST, api2.base + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264"]],
                                     headers: [("Accept", "text/event-stream")])
            let text = String(decoding: sse.body, as: UTF8.self)
            for event in ["event: start", "event: log", "event: output", "event: completed"] {
                #expect(text.contains(event), "missing \(event): \(text.prefix(600))")
            }
            #expect(text.contains("\"status\":\"succeeded\""))
        }
    }

    /// A `videos` prediction fans out: each item is a task any worker takes; the output list comes back in
    /// input order with each item's metrics, logs in item order; a failed item fails it (naming the item)
    /// unless continue_on_error, which leaves a null in its place.
    @Test func videosFanOutAcrossWorkers() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["a.mp4": try clip(seconds: 1), "b.mp4": try clip(seconds: 2)]) { fixture, recorder in
            let api = try NodeProcess.api(db)
            let w1 = try NodeProcess.worker(db), w2 = try NodeProcess.worker(db)
            try await api.waitReady(); try await w1.waitReady(); try await w2.waitReady()
            let urls = ["a", "b", "a", "b"].map { fixture + "/files/\($0).mp4" }
            let r = try await http(.PUT, api.base + "/predictions/fan", json: ["input": ["videos": urls, "output_codec": "libx264"],
                                                                               "webhook": fixture + "/hook"])
            #expect(r.object["status"] as? String == "succeeded", "\(r.object["error"] ?? "") \(w1.log.suffix(800))")
            let outputs = try #require(r.object["output"] as? [Any])
            let dir = try Scratch()
            #expect(try outputs.map { try decodeOutput($0, in: dir).0.video?.nb_read_frames } == ["10", "20", "10", "20"])
            let items = (r.object["metrics"] as? [String: Any])?["items"] as? [[String: Any]]
            #expect(items?.map { $0["frames"] as? Int } == [10, 20, 10, 20], "\(String(describing: items))")
            let logs = r.object["logs"] as? String ?? ""
            let order = ["item 1/4", "item 2/4", "item 3/4", "item 4/4"].compactMap { logs.range(of: $0)?.lowerBound }
            #expect(order.count == 4 && order == order.sorted(), "\(logs)")
            #expect(try TestDatabase.value(db, "SELECT count(*) || ' ' || count(DISTINCT worker_id) FROM vfx_tasks WHERE state = 'succeeded'") == "4 2")
            // Webhooks: start once, output and completed once, whichever items' workers wrote them.
            try await waitUntil(20, every: 0.5) { await recorder.statuses.last == "succeeded" }
            let statuses = await recorder.statuses
            #expect(statuses.first == "processing" && statuses.filter { $0 == "succeeded" }.count == 2, "\(statuses)")

            let failing = [fixture + "/files/a.mp4", fixture + "/files/missing.mp4", fixture + "/files/b.mp4"]
            let strict = try await http(.POST, api.base + "/predictions", json: ["input": ["videos": failing, "output_codec": "libx264"]])
            #expect(strict.object["status"] as? String == "failed")
            #expect((strict.object["error"] as? String ?? "").contains("item 2/3") && (strict.object["error"] as? String ?? "").contains("missing.mp4"),
                    "\(strict.object["error"] ?? "")")
            let lenient = try await http(.POST, api.base + "/predictions", json: ["input": ["videos": failing, "output_codec": "libx264",
                                                                                             "continue_on_error": true]])
            #expect(lenient.object["status"] as? String == "succeeded", "\(lenient.object["error"] ?? "")")
            let list = try #require(lenient.object["output"] as? [Any])
            #expect(list.count == 3 && list[0] is String && list[1] is NSNull && list[2] is String)
            let failed = ((lenient.object["metrics"] as? [String: Any])?["items"] as? [[String: Any]])?[1]
            #expect(failed?["error_category"] as? String == "unavailable", "\(String(describing: failed))")
        }
    }

    /// `vfx batch --database`: the items go to the cluster's workers (same files, same paths) and come back
    /// with the same report, resume and exit status as a local batch; --detach returns once queued.
    @Test func aBatchQueuedInTheDatabase() async throws {
        let db = try TestDatabase.create()
        let dir = try Scratch()
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        try Media.make(dir.path("in/a.mp4"), video: "testsrc2=size=160x120:rate=10", seconds: 1)
        try Media.make(dir.path("in/b.mp4"), video: "testsrc2=size=160x120:rate=10", seconds: 2)
        try Data("not a video".utf8).write(to: URL(fileURLWithPath: dir.path("in/bad.mp4")))
        let w1 = try NodeProcess.worker(db), w2 = try NodeProcess.worker(db)
        try await w1.waitReady(); try await w2.waitReady()
        let inputs = ["a", "b", "bad"].map { dir.path("in/\($0).mp4") }
        let args = [builtBinary("vfx"), "batch"] + inputs + ["-o", dir.path("out"), "--chain", "invert", "--output-codec", "libx264",
                                                               "--database", db, "--report", dir.path("report.json")]
        let first = try sh(args)
        #expect(first.status == 1, "\(first.out) \(first.err)")
        #expect(first.err.contains("2 succeeded, 1 failed, 0 skipped"), "\(first.err)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.path("report.json")))) as? [String: Any]
        let items = report?["items"] as? [[String: Any]] ?? []
        #expect(items.map { $0["status"] as? String } == ["succeeded", "succeeded", "failed"], "\(items)")
        #expect(items.map { $0["frames"] as? Int } == [10, 20, 0])
        let message = (items.last?["error"] as? [String: Any])?["message"] as? String ?? ""
        #expect(message.contains("bad.mp4"), "\(items)")
        let written = try #require(items[1]["output"] as? String)
        let frames = try Media.probe(written).video?.nb_read_frames
        #expect(written.hasPrefix(dir.path("out/")) && frames == "20", "\(written)")
        // Again: the finished ones are skipped, the failed one is tried again (and fails again).
        let again = try sh(args)
        #expect(again.status == 1 && again.err.contains("0 succeeded, 1 failed, 2 skipped"), "\(again.err)")
        // --detach returns once queued; the workers write the outputs.
        let detached = try sh([builtBinary("vfx"), "batch", inputs[0], "-o", dir.path("later"), "--output-codec", "libx264", "--database", db, "--detach"])
        #expect(detached.status == 0 && detached.out.hasPrefix("batch-"), "\(detached.out) \(detached.err)")
        try await waitUntil(30, every: 0.5) { !((try? FileManager.default.contentsOfDirectory(atPath: dir.path("later"))) ?? []).isEmpty }
    }

    /// A full queue answers 409 naming the limit; a sync client that hangs up cancels its prediction on
    /// whichever worker runs it; an upload is named by its attempt, so a lost attempt's late upload
    /// never replaces the real one.
    @Test func queueLimitHangUpAndUploadNames() async throws {
        let db = try TestDatabase.create()
        try await withFixture(files: ["a.mp4": try clip(seconds: 1), "long.mp4": try clip(seconds: 5)]) { fixture, recorder in
            let full = try NodeProcess.api(db, extra: ["--max-queued", "1"])
            try await full.waitReady()
            let body: [String: Any] = ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264"]]
            #expect(try await http(.POST, full.base + "/predictions", json: body, headers: [("Prefer", "respond-async")]).status == 202)
            let refused = try await http(.POST, full.base + "/predictions", json: body, headers: [("Prefer", "respond-async")])
            #expect(refused.status == 409 && (refused.object["error"] as? String ?? "").contains("--max-queued"), "\(refused.object)")

            let uploading = ["--upload-url", fixture + "/upload/"]
            let api = try NodeProcess.api(db, extra: uploading)
            let worker = try NodeProcess.worker(db, extra: uploading, hangOn: "long.mp4")
            try await api.waitReady(); try await worker.waitReady()
            // The queued one runs now; its upload carries its attempt in its name.
            try await waitUntil(30, every: 0.5) { (try? TestDatabase.value(db, "SELECT count(*) FROM vfx_predictions WHERE status = 'succeeded'")) == "1" }
            let output = try TestDatabase.value(db, "SELECT prediction->>'output' FROM vfx_predictions WHERE status = 'succeeded'")
            #expect(output.hasPrefix(fixture + "/upload/output-") && output.hasSuffix("-a1.mp4"), "\(output)")
            #expect(await recorder.uploads.keys.contains { $0.hasSuffix("-a1.mp4") })

            // A sync client gives up after a second: its prediction is cancelled on the worker.
            _ = try? await http(.PUT, api.base + "/predictions/hangs-up", json: ["input": ["video": fixture + "/files/long.mp4"]], timeout: 1)
            try await waitUntil(20, every: 0.5) {
                (try? TestDatabase.value(db, "SELECT status FROM vfx_predictions WHERE id = 'hangs-up'")) == "canceled"
            }
        }
    }
}
