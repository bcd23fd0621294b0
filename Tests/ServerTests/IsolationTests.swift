import Foundation
import Jobs
import MediaIO
import Pipeline
import Synchronization
import TestSupport
import Testing
@testable import VideoFXServer

/// Each job in a process of its own: a crash or a limit fails that prediction alone.
@Suite(.serialized) struct IsolationTests {
    /// Job processes (`vfx-server run-job`) that are children of this test process.
    static func jobProcesses() -> [String] {
        let me = String(getpid())
        return ((try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []).filter { pid in
            guard pid.allSatisfy(\.isNumber),
                  let cmd = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline"),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8) else { return false }
            let fields = stat.split(separator: ")").last?.split(separator: " ") ?? []
            return String(decoding: cmd, as: UTF8.self).hasSuffix("run-job\0") && fields.count > 1 && String(fields[1]) == me
        }
    }

    /// Three predictions at once, one of whose jobs fails on purpose: that one fails with `message`,
    /// the others complete, the server stays READY, nothing is left, and the crash is counted.
    func oneFaultyJob(fault: String, message: String, reason: String, configure: @escaping @Sendable (inout ServerConfiguration) -> Void = { _ in }) async throws {
        let video = try clip(seconds: 3, size: "320x240", audio: true)
        try await withServers(concurrency: 3, files: ["a.mp4": video, "boom.mp4": video, "c.mp4": video], configure: {
            $0.jobEnvironment = [JobChild.faultVariable: "\(fault):boom"]
            configure(&$0)
        }) { vfx, fixture, _, tmp in
            let results = try await withThrowingTaskGroup(of: (String, String, String).self) { group in
                for name in ["a.mp4", "boom.mp4", "c.mp4"] {
                    group.addTask {
                        let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/" + name, "output_codec": "libx264"]])
                        return (name, r.object["status"] as? String ?? "", r.object["error"] as? String ?? "")
                    }
                }
                var all: [String: (status: String, error: String)] = [:]
                for try await (name, status, error) in group { all[name] = (status, error) }
                return all
            }
            #expect(results["a.mp4"]?.status == "succeeded")
            #expect(results["c.mp4"]?.status == "succeeded")
            #expect(results["boom.mp4"]?.status == "failed")
            let error = results["boom.mp4"]?.error ?? ""
            #expect(error.contains(message), "\(error)")
            let health = try await http(.GET, vfx + "/health-check")
            #expect(health.object["status"] as? String == "READY")
            let setup = (health.object["setup"] as? [String: Any])?["logs"] as? String ?? ""
            #expect(setup.contains("jobs: a process each, memory held to") && setup.contains(IsolatedJob.memoryEnforcement), "\(setup)")
            let metrics = String(decoding: try await http(.GET, vfx + "/metrics").body, as: UTF8.self)
            #expect(metrics.contains("vfx_job_crashes_total{reason=\"\(reason)\"} 1"), "\(metrics)")
            try await waitUntil(5) { tmp.contents.isEmpty && Self.jobProcesses().isEmpty }
            // And it serves the next one.
            let after = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264"]])
            #expect(after.object["status"] as? String == "succeeded")
        }
    }

    @Test func aCrashingJobFailsItsPredictionAlone() async throws {
        try await oneFaultyJob(fault: "crash", message: "the engine crashed on this input (signal 11)", reason: "signal")
    }

    @Test func aJobPastItsMemoryLimitFailsAlone() async throws {
        try await oneFaultyJob(fault: "memory", message: "the job passed its memory limit of 300 MiB", reason: "memory") {
            $0.jobLimits.memoryBytes = 300 << 20
        }
    }

    /// Cancelling ends the job's process at once, and a client that hangs up does the same.
    @Test func cancelEndsTheJobProcess() async throws {
        let video = try clip(seconds: 2)
        try await withServers(files: ["boom.mp4": video], configure: { $0.jobEnvironment = [JobChild.faultVariable: "hang:boom"] }) { vfx, fixture, _, tmp in
            let r = try await http(.POST, vfx + "/predictions", json: ["id": "stuck", "input": ["video": fixture + "/files/boom.mp4"]],
                                   headers: [("Prefer", "respond-async")])
            #expect(r.status == 202)
            try await waitUntil(10) { !Self.jobProcesses().isEmpty }
            let started = ContinuousClock.now
            #expect(try await http(.POST, vfx + "/predictions/stuck/cancel").status == 200)
            try await waitUntil(5) { Self.jobProcesses().isEmpty }
            #expect(ContinuousClock.now - started < .seconds(2))
            try await waitUntil(5) { tmp.contents.isEmpty }
        }
    }

    @Test func aJobThatStallsIsStopped() async throws {
        try await oneFaultyJob(fault: "hang", message: "the job made no progress for 2 s", reason: "stalled") {
            $0.jobLimits.stallSeconds = 2
        }
    }

    /// A crashed child's last words on standard error reach the caller (the server logs them).
    @Test func aCrashedChildsStandardErrorIsHandedOn() throws {
        let dir = try Scratch()
        let input = dir.path("crashme.mp4")
        try Media.make(input, seconds: 1)
        var request = ProcessRequest(input: input, output: dir.path("out.mp4"))
        request.outputCodec = "libx264"
        let job = IsolatedJob(executable: builtBinary("vfx-server"), environment: [JobChild.faultVariable: "crash:crashme", "TMPDIR": dir.url.path])
        let said = Mutex("")
        #expect(throws: JobCrash.signal(SIGSEGV)) {
            try job.run(JobSpec(request), cancellation: CancellationFlag(), onProgress: { _ in }, onLog: { _ in },
                        onCrash: { text in said.withLock { $0 = text } })
        }
        #expect(!said.withLock { $0 }.isEmpty)
        #expect(dir.contents == ["crashme.mp4"], "\(dir.contents)")
    }

    @Test func memoryLimitBelowTheMinimumIsRefusedAtStart() throws {
        // Under timeout: a server that wrongly started would otherwise never return.
        let r = try sh(["timeout", "-s", "KILL", "30", builtBinary("vfx-server"), "--job-memory-mib", "16", "--host", "127.0.0.1", "--port", "0"])
        #expect(r.status != 0)
        #expect(r.err.contains("--job-memory-mib 16 is below the minimum of \(ProcessLimits.minimumMemoryBytes >> 20) MiB"), "\(r.err)")
    }
}
