import Hummingbird
import Logging
import NIOCore
import ServiceLifecycle
import Testing

/// A server a test could not start: it failed to bind, or did not report running in time.
struct ServerDidNotStart: Error, CustomStringConvertible {
    let reason: String
    var description: String { "the test server did not start: \(reason)" }
}

/// The address a server really bound, as a base URL, once it reports running.
actor BoundAddress {
    private var result: Result<String, any Error>?

    func set(_ address: SocketAddress?) {
        guard result == nil else { return }
        guard let address, let ip = address.ipAddress, let port = address.port else {
            result = .failure(ServerDidNotStart(reason: "no local address on the listening channel"))
            return
        }
        result = .success(address.protocol == .inet6 ? "http://[\(ip)]:\(port)" : "http://\(ip):\(port)")
    }

    func fail(_ error: any Error) { if result == nil { result = .failure(error) } }

    /// The base URL, or an error once the server failed or `seconds` passed.
    func wait(seconds: Double) async throws -> String {
        let deadline = ContinuousClock.now + .milliseconds(Int(seconds * 1000))
        while ContinuousClock.now < deadline {
            if let result { return try result.get() }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw ServerDidNotStart(reason: "not listening after \(seconds) s")
    }
}

/// Runs the application `make` builds (it must pass the given callback as `onServerRunning`), waits at
/// most `startup` seconds for it to listen, and calls `body` with the base URL of the address it really
/// bound. The server is shut down gracefully afterwards, whatever `body` did.
func withLiveServer<App: ApplicationProtocol, T: Sendable>(
    startup: Double = 10,
    _ make: (_ onServerRunning: @escaping @Sendable (any Channel) async -> Void) -> App,
    _ body: (_ base: String) async throws -> T
) async throws -> T {
    let bound = BoundAddress()
    let app = make { channel in await bound.set(channel.localAddress) }
    var logger = Logger(label: "test-server")
    logger.logLevel = .warning
    let group = ServiceGroup(configuration: .init(services: [app], logger: logger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask {
            do { try await group.run() } catch { await bound.fail(error); throw error }
            await bound.fail(ServerDidNotStart(reason: "the server stopped before it was listening"))
        }
        do {
            let base = try await bound.wait(seconds: startup)
            let value = try await body(base)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return value
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

@Suite struct LiveServerHarnessTests {
    /// A server that cannot come up (its port is taken) fails its test at once, not after a long wait.
    @Test func aServerThatNeverCameUpFailsInSeconds() async throws {
        let started = ContinuousClock.now
        try await withLiveServer({ running in
            Application(router: Router(), configuration: .init(address: .hostname("127.0.0.1", port: 0)), onServerRunning: running)
        }) { base in
            let port = Int(base.split(separator: ":").last!)!
            await #expect(throws: (any Error).self) {
                try await withLiveServer({ running in
                    Application(router: Router(), configuration: .init(address: .hostname("127.0.0.1", port: port)),
                                onServerRunning: running)
                }) { _ in }
            }
        }
        #expect(ContinuousClock.now - started < .seconds(5))
    }
}
