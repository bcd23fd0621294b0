import ArgumentParser
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// `vfx serve`: takes every argument as it is (`--help` included) and hands them to the `vfx-server`
/// binary beside `vfx`, which defines the options.
struct Serve: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Serve the Cog prediction API (POST /predictions) over the engine. `vfx serve --help` lists its options.")

    @Argument(parsing: .captureForPassthrough, help: "Options for the server.")
    var arguments: [String] = []

    func run() throws { ServerLauncher.exec(arguments: arguments) }
}

/// `vfx worker`: runs predictions queued in PostgreSQL (`vfx-server worker`; `vfx worker --help` lists its options).
struct WorkerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "worker", abstract: "Run predictions queued in PostgreSQL (--database). `vfx worker --help` lists its options.")

    @Argument(parsing: .captureForPassthrough, help: "Options for the worker.")
    var arguments: [String] = []

    func run() throws { ServerLauncher.exec(arguments: ["worker"] + arguments) }
}

/// `vfx db migrate`: the cluster database's schema (`vfx-server db`).
struct DatabaseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "db", abstract: "Manage the cluster's database: `vfx db migrate --database URL`.")

    @Argument(parsing: .captureForPassthrough, help: "The db command and its options.")
    var arguments: [String] = []

    func run() throws { ServerLauncher.exec(arguments: ["db"] + arguments) }
}

/// `vfx queue stats|list|inspect|retry|cancel|prune` (`vfx-server queue`).
struct QueueCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "queue", abstract: "Inspect and manage the predictions queued in PostgreSQL: `vfx queue stats|list|inspect ID|retry ID|cancel ID|prune --older-than DAYS`.")

    @Argument(parsing: .captureForPassthrough, help: "The queue command and its options.")
    var arguments: [String] = []

    func run() throws { ServerLauncher.exec(arguments: ["queue"] + arguments) }
}

/// `vfx workers` (`vfx-server workers`).
struct WorkersCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "workers", abstract: "List the cluster's workers, their heartbeats and what they run.")

    @Argument(parsing: .captureForPassthrough, help: "Options (--database, --json).")
    var arguments: [String] = []

    func run() throws { ServerLauncher.exec(arguments: ["workers"] + arguments) }
}

/// Replaces this process with `vfx-server`, so signals, exit status and the PID stay the server's.
enum ServerLauncher {
    static let binaryName = "vfx-server"

    /// The server binary: beside the running executable.
    static func serverPath() -> String {
        var buffer = [CChar](repeating: 0, count: Int(PATH_MAX) + 1)
        #if os(Linux)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        let me = n > 0 ? String(decoding: buffer[..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self) : CommandLine.arguments[0]
        #else
        let me = realpath(CommandLine.arguments[0], &buffer) != nil ? String(cString: buffer) : CommandLine.arguments[0]
        #endif
        guard let slash = me.lastIndex(of: "/") else { return binaryName }
        return String(me[...slash]) + binaryName
    }

    /// Never returns: either the server runs in this process, or the error is printed and vfx exits 1.
    /// Looks beside this executable first, then on `PATH` (for a `vfx` copied or linked on its own).
    static func exec(arguments: [String]) -> Never {
        let beside = serverPath()
        var argv: [UnsafeMutablePointer<CChar>?] = ([beside] + arguments).map { strdup($0) }
        argv.append(nil)
        execv(beside, &argv)
        let besideReason = String(cString: strerror(errno))
        execvp(binaryName, &argv)
        let pathReason = String(cString: strerror(errno))
        printError("error: vfx serve runs \(binaryName), which could not start at \(beside) (\(besideReason)) "
                   + "nor from PATH (\(pathReason)); build it with `swift build --product \(binaryName)` (or plain `swift build`)")
        exit(1)
    }
}
