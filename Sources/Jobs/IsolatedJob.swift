#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import ErrorTaxonomy
import MediaIO
import Pipeline

/// Runs one job in a child process of `executable` (`EXECUTABLE run-job`, see ``JobChild``), so that a
/// decoder crash, a trap or a runaway allocation ends that job alone. The child limits its CPU time,
/// open files and file sizes itself; its memory is held to ``ProcessLimits/memoryBytes`` by a memory
/// cgroup where the machine allows one, and always by the parent watching its resident memory; the
/// parent ends it at once when the job is cancelled.
public struct IsolatedJob: Sendable {
    public let executable: String
    /// Variables added to the child's environment (TMPDIR points into the job's own folder).
    public var environment: [String: String]

    public init(executable: String, environment: [String: String] = [:]) {
        self.executable = executable
        self.environment = environment
    }

    /// How each job's memory limit is enforced on this machine (a cgroup, or the RSS watchdog).
    public static var memoryEnforcement: String { MemoryCgroup.enforcement }

    /// A child that dies before reading its job must not take the parent with it: writing to its pipe
    /// then fails with EPIPE instead of raising SIGPIPE (children start with the default again).
    private static let ignoreBrokenPipes: Void = { signal(SIGPIPE, SIG_IGN); return () }()

    /// How often the parent looks at the child's memory and the cancellation flag.
    static let watchInterval: Int32 = 50

    /// Runs `spec` to its end; blocks the calling thread. Throws the job's own error, ``JobCrash`` when
    /// the child ended without a result, or `MediaError.cancelled`. When the child ends without a result,
    /// `onCrash` gets the end of what it wrote on standard error (a trap's message, a backtrace): for the
    /// operator's log, not the client.
    public func run(_ spec: JobSpec, cancellation: CancellationFlag, onProgress: (JobProgress) -> Void,
                    onLog: (String) -> Void, onCrash: (String) -> Void = { _ in }) throws -> ProcessResult {
        let job = try JSONEncoder().encode(spec)
        Self.ignoreBrokenPipes
        let child = try Child.spawn(executable: executable, arguments: ["run-job"], environment: environment)
        defer { child.closeAll() }
        // Into its memory cgroup before it reads the job, so everything it allocates for it is counted.
        var cgroup = MemoryCgroup.make(limitBytes: spec.processLimits.memoryBytes)
        if let group = cgroup, !group.add(child.pid) { group.remove(); cgroup = nil }
        defer { cgroup?.remove() }
        child.send(job)
        var outcome: JobMessage?
        var stopped: JobCrash?
        var cancelled = false
        var pending = Data(), diagnostics = Data()
        let decoder = JSONDecoder()
        let limit = spec.processLimits.memoryBytes
        // With a cgroup the kernel enforces the limit exactly; the watchdog stays as a backstop above it.
        var watchdogLimit: Int { cgroup == nil ? limit : limit + (64 << 20) }
        var lastHeard = ContinuousClock.now
        let stallLimit = Duration.milliseconds(Int64(spec.processLimits.stallSeconds * 1000))
        while child.isOpen {
            let before = pending.count
            child.poll(timeout: Self.watchInterval, output: &pending, errors: &diagnostics)
            if pending.count != before { lastHeard = .now }
            while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                let line = pending[pending.startIndex..<newline]
                pending.removeSubrange(pending.startIndex...newline)
                guard let message = try? decoder.decode(JobMessage.self, from: Data(line)) else { continue }
                switch message {
                case let .progress(done, total, elapsed): onProgress(JobProgress(framesDone: done, totalFrames: total, elapsed: elapsed))
                case .log(let text): onLog(text)
                case .result, .failure: outcome = message
                }
            }
            if diagnostics.count > 8192 { diagnostics.removeFirst(diagnostics.count - 8192) }
            if stopped == nil, !cancelled {
                if cancellation.isCancelled {
                    cancelled = true
                    child.kill()
                } else if let rss = child.residentBytes, rss > watchdogLimit {
                    stopped = .memory(limitBytes: limit)
                    child.kill()
                } else if ContinuousClock.now - lastHeard > stallLimit {
                    stopped = .stalled(seconds: spec.processLimits.stallSeconds)
                    child.kill()
                }
            }
        }
        let status = child.wait()
        if cancelled {
            TemporaryFiles.removeLeftovers(of: [spec.recipe.output])
            throw MediaError.cancelled
        }
        if outcome == nil || stopped != nil {
            // A child that ended without a result could not remove the output it was writing.
            TemporaryFiles.removeLeftovers(of: [spec.recipe.output])
            onCrash(String(decoding: diagnostics, as: UTF8.self))
        }
        if let stopped { throw stopped }
        if status.signal == SIGKILL, cgroup?.oomKilled == true { throw JobCrash.memory(limitBytes: limit) }
        switch outcome {
        case .result(let result)?: return result
        case let .failure(message, category)?: throw ChildJobError(message, category: category)
        default: break
        }
        if let signal = status.signal {
            switch signal {
            case SIGXCPU: throw JobCrash.cpuTime(seconds: spec.processLimits.cpuSeconds)
            case SIGXFSZ: throw JobCrash.fileSize(bytes: spec.processLimits.fileBytes)
            default: throw JobCrash.signal(signal)
            }
        }
        throw JobCrash.noResult(status: status.code ?? -1)
    }
}

// glibc's pipe2, which Glibc's module map leaves out (it sits behind _GNU_SOURCE): close-on-exec from the
// start, so a child spawned by another thread at the same moment never inherits these pipes.
@_silgen_name("pipe2") private func systemPipe2(_ fds: UnsafeMutablePointer<Int32>, _ flags: Int32) -> Int32

/// A spawned child with pipes on its standard input, output and error.
final class Child {
    let pid: pid_t
    private var input: Int32, output: Int32, errors: Int32
    /// Read into on every poll (allocated once).
    private var buffer = [UInt8](repeating: 0, count: 64 << 10)

    private init(pid: pid_t, input: Int32, output: Int32, errors: Int32) {
        self.pid = pid; self.input = input; self.output = output; self.errors = errors
    }

    static func spawn(executable: String, arguments: [String], environment: [String: String]) throws -> Child {
        var stdinPipe: [Int32] = [0, 0], stdoutPipe: [Int32] = [0, 0], stderrPipe: [Int32] = [0, 0]
        guard systemPipe2(&stdinPipe, O_CLOEXEC) == 0 else { throw spawnError("pipe") }
        guard systemPipe2(&stdoutPipe, O_CLOEXEC) == 0 else { close(stdinPipe[0]); close(stdinPipe[1]); throw spawnError("pipe") }
        guard systemPipe2(&stderrPipe, O_CLOEXEC) == 0 else {
            for fd in stdinPipe + stdoutPipe { close(fd) }
            throw spawnError("pipe")
        }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, stdinPipe[0], 0)
        posix_spawn_file_actions_adddup2(&actions, stdoutPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, stderrPipe[1], 2)
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        // The server may ignore or block signals; the job starts with the defaults, in a group of its own
        // (a Ctrl-C at the server's terminal is the server's to handle).
        var none = sigset_t(), defaults = sigset_t()
        sigemptyset(&none)
        sigemptyset(&defaults)
        for s in [SIGPIPE, SIGINT, SIGTERM, SIGXCPU, SIGXFSZ, SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGFPE] { sigaddset(&defaults, s) }
        posix_spawnattr_setsigmask(&attributes, &none)
        posix_spawnattr_setsigdefault(&attributes, &defaults)
        posix_spawnattr_setpgroup(&attributes, 0)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF | POSIX_SPAWN_SETPGROUP))
        var env = ProcessInfo.processInfo.environment
        for (k, v) in environment { env[k] = v }
        env[JobChild.parentVariable] = String(getpid())
        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        let envp = env.map { strdup("\($0.key)=\($0.value)") } + [nil]
        defer { argv.forEach { free($0) }; envp.forEach { free($0) } }
        var pid: pid_t = 0
        // posix_spawnp: a bare name (when /proc was not there to say the full path) is looked up in PATH.
        let rc = posix_spawnp(&pid, executable, &actions, &attributes, argv, envp)
        close(stdinPipe[0]); close(stdoutPipe[1]); close(stderrPipe[1])
        guard rc == 0 else {
            close(stdinPipe[1]); close(stdoutPipe[0]); close(stderrPipe[0])
            throw spawnError("posix_spawn \(executable)", code: rc)
        }
        return Child(pid: pid, input: stdinPipe[1], output: stdoutPipe[0], errors: stderrPipe[0])
    }

    static func spawnError(_ what: String, code: Int32 = errno) -> MediaError {
        .encoderUnavailable(name: "job process", reason: "\(what): \(String(cString: strerror(code)))")
    }

    /// Writes the whole of `data` to the child's standard input, then closes it.
    func send(_ data: Data) {
        writeAll(data, to: input)
        close(input)
        input = -1
    }

    /// Whether either output pipe is still open.
    var isOpen: Bool { output >= 0 || errors >= 0 }

    /// Waits up to `timeout` ms for output and appends what arrived; closes a pipe at its end.
    func poll(timeout: Int32, output out: inout Data, errors err: inout Data) {
        var fds = [pollfd(fd: output, events: Int16(POLLIN), revents: 0), pollfd(fd: errors, events: Int16(POLLIN), revents: 0)]
        let ready = Glibc.poll(&fds, 2, timeout)
        guard ready > 0 else { return }
        for (i, fd) in fds.enumerated() where fd.fd >= 0 && fd.revents != 0 {
            let n = buffer.withUnsafeMutableBytes { read(fd.fd, $0.baseAddress, $0.count) }
            if n > 0 {
                if i == 0 { out.append(contentsOf: buffer[0..<n]) } else { err.append(contentsOf: buffer[0..<n]) }
            } else if n == 0 || (errno != EINTR && errno != EAGAIN) {
                close(fd.fd)
                if i == 0 { output = -1 } else { errors = -1 }
            }
        }
    }

    /// Resident memory as the kernel counts it (`/proc/PID/statm`), or nil once it cannot be read.
    var residentBytes: Int? {
        let fd = open("/proc/\(pid)/statm", O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 128)
        let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard n > 0 else { return nil }
        // "size resident shared ...", in pages.
        let fields = buffer[0..<n].split(separator: UInt8(ascii: " "))
        guard fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    func kill() { _ = Glibc.kill(pid, SIGKILL) }

    /// Reaps the child: its exit code, or the signal that ended it.
    func wait() -> (code: Int32?, signal: Int32?) {
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let signal = status & 0x7f
        return signal == 0 ? ((status >> 8) & 0xff, nil) : (nil, signal)
    }

    func closeAll() {
        for fd in [input, output, errors] where fd >= 0 { close(fd) }
        input = -1; output = -1; errors = -1
    }
}

/// Writes all of `data` to `fd`, through short writes and interruptions; stops at an error (a reader
/// that went away: SIGPIPE is ignored by the server and default in the child, which then ends).
func writeAll(_ data: Data, to fd: Int32) {
    data.withUnsafeBytes { raw in
        var offset = 0
        while offset < raw.count {
            let n = write(fd, raw.baseAddress! + offset, raw.count - offset)
            if n < 0 { if errno == EINTR { continue }; return }
            offset += n
        }
    }
}
