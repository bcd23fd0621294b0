import Foundation
import Hummingbird
import TestSupport
import Testing

/// The private PostgreSQL cluster `scripts/test` starts (`scripts/pg`), as `VFX_TEST_DATABASE_URL`.
enum TestDatabase {
    static var adminURL: String? { ProcessInfo.processInfo.environment["VFX_TEST_DATABASE_URL"].flatMap { $0.isEmpty ? nil : $0 } }

    /// A fresh, empty database on that cluster; its URL.
    static func create() throws -> String {
        let admin = try #require(adminURL, "VFX_TEST_DATABASE_URL is not set (scripts/test starts PostgreSQL with scripts/pg)")
        let name = "vfx_test_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(12).lowercased()
        let r = try sh(["psql", admin, "-v", "ON_ERROR_STOP=1", "-qc", "CREATE DATABASE \(name)"])
        try #require(r.status == 0, "creating a test database: \(r.err)")
        return admin.replacingOccurrences(of: "/postgres", with: "/" + name)
    }

    /// One value from a query (psql, unaligned).
    @discardableResult
    static func value(_ url: String, _ sql: String) throws -> String {
        let r = try sh(["psql", url, "-tAqc", sql])
        guard r.status == 0 else { throw NodeFailed(message: "psql: \(r.err)") }
        return r.out.trimmingCharacters(in: .whitespacesAndNewlines)
    }
}

struct NodeFailed: Error, CustomStringConvertible { let message: String; var description: String { message } }

/// A `vfx-server` process (serve or worker) of the built binary, killed when the test drops it.
final class NodeProcess: @unchecked Sendable {
    // pid and logPath are set once in init; only signals are sent afterwards.
    let pid: pid_t
    let logPath: String
    let port: Int?

    init(_ arguments: [String], port: Int?, environment: [String: String] = [:]) throws {
        self.port = port
        logPath = FileManager.default.temporaryDirectory.appendingPathComponent("vfx-node-\(UUID().uuidString).log").path
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, logPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        posix_spawn_file_actions_adddup2(&actions, 1, 2)
        let argv = ([builtBinary("vfx-server")] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let env = (ProcessInfo.processInfo.environment.merging(environment) { _, given in given }).map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { env.forEach { free($0) } }
        var pid: pid_t = 0
        let rc = posix_spawn(&pid, builtBinary("vfx-server"), &actions, nil, argv, env)
        guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
        self.pid = pid
    }

    var base: String { "http://127.0.0.1:\(port ?? 0)" }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    func signal(_ s: Int32) { kill(pid, s) }

    /// Waits for the process to end (at most `seconds`); its exit status, or nil when it still runs.
    func wait(seconds: Double) async -> Int32? {
        let deadline = Date().addingTimeInterval(seconds)
        var status: Int32 = 0
        while Date() < deadline {
            let r = waitpid(pid, &status, WNOHANG)
            if r == pid { return (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f) }
            try? await Task.sleep(for: .milliseconds(50))
        }
        return nil
    }

    /// Waits until `/health-check` says READY (at most `seconds`), failing with the node's log.
    func waitReady(seconds: Double = 60) async throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if let r = try? await http(.GET, base + "/health-check", timeout: 2), r.object["status"] as? String == "READY" { return }
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { throw NodeFailed(message: "the node exited: \(log.suffix(2000))") }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw NodeFailed(message: "the node was not READY after \(seconds) s: \(log.suffix(2000))")
    }

    deinit {
        kill(pid, SIGCONT)
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        unlink(logPath)
    }

    /// A TCP port free on 127.0.0.1 now.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, len) } }
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    /// `vfx serve --database URL` on a free port.
    static func api(_ url: String, concurrency: Int = 0, extra: [String] = []) throws -> NodeProcess {
        let port = freePort()
        return try NodeProcess(["--host", "127.0.0.1", "--port", "\(port)", "--database", url, "--concurrency", "\(concurrency)",
                                "--allow-private-urls"] + extra, port: port)
    }

    /// `vfx worker --database URL`, with /health-check on a free port.
    /// `hangOn`: a job whose input URL holds this text hangs until stopped (the test fault switch
    /// `VFX_TEST_JOB_FAULT`), so a test can stop a worker mid-job on any machine; `crashOn` crashes it.
    static func worker(_ url: String, extra: [String] = [], hangOn: String? = nil, crashOn: String? = nil,
                       environment: [String: String] = [:]) throws -> NodeProcess {
        let port = freePort()
        var env = environment
        if let hangOn { env["VFX_TEST_JOB_FAULT"] = "hang:" + hangOn }
        if let crashOn { env["VFX_TEST_JOB_FAULT"] = "crash:" + crashOn }
        return try NodeProcess(["worker", "--host", "127.0.0.1", "--port", "\(port)", "--database", url, "--allow-private-urls"] + extra,
                               port: port, environment: env)
    }
}

/// Serves `files` at /files/NAME and records webhooks at /hook, for the cluster's nodes to reach.
func withFixture(files: [String: Data], _ body: @Sendable @escaping (_ base: String, _ recorder: Recorder) async throws -> Void) async throws {
    let recorder = Recorder()
    let router = Router()
    serveFiles(files, on: router, recorder: recorder)
    router.post("/hook") { req, _ in
        let b = try await req.body.collect(upTo: 1 << 28)
        await recorder.hook(Data(b.readableBytesView))
        return Response(status: .ok)
    }
    router.put("/upload/:name") { req, ctx in
        let b = try await req.body.collect(upTo: 1 << 28)
        await recorder.upload(ctx.parameters.get("name") ?? "", Data(b.readableBytesView))
        return Response(status: .created)
    }
    try await withLiveServer({ running in
        Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: running)
    }) { base in try await body(base, recorder) }
}
