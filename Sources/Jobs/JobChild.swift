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
import Synchronization

// prctl(2), which Glibc's module map does not export.
@_silgen_name("prctl") private func systemPrctl(_ option: Int32, _ a: UInt, _ b: UInt, _ c: UInt, _ d: UInt) -> Int32

/// The child side of an isolated job (`vfx-server run-job`): reads a ``JobSpec`` from standard input,
/// limits itself, runs the engine and writes ``JobMessage`` lines to standard output.
public enum JobChild {
    /// The environment variable tests set to make a child fail on purpose, as `FAULT:MARK`: a job whose
    /// input name contains MARK gets FAULT after its first frame: `crash` (SIGSEGV), `memory` (allocates
    /// until stopped) or `hang` (never finishes). Nothing else reads it; unset, it costs nothing.
    public static let faultVariable = "VFX_TEST_JOB_FAULT"
    /// Set by the parent to its own pid: the child ends itself when that process goes away.
    public static let parentVariable = "VFX_JOB_PARENT"

    /// Runs one job; returns the exit status.
    public static func main() -> Int32 {
        // A parent killed with SIGKILL must not leave its jobs running.
        _ = systemPrctl(1 /* PR_SET_PDEATHSIG */, UInt(SIGKILL), 0, 0, 0)
        if let expected = getenv(parentVariable).flatMap({ pid_t(String(cString: $0)) }), getppid() != expected { return 1 }
        guard let data = readStandardInput(limit: 16 << 20), let spec = try? JSONDecoder().decode(JobSpec.self, from: data) else {
            emit(.failure(message: "the job description could not be read", category: .internal))
            return ErrorCategory.internal.exitCode
        }
        limit(spec.processLimits)
        FFmpegLog.configure(verbose: false)
        let fault = testFault(for: spec.inputName ?? spec.recipe.input)
        let lastProgress = Mutex(-1.0)
        let onProgress: @Sendable (JobProgress) -> Void = { p in
            if p.framesDone == 1 { injectFault(fault) }
            let final = p.totalFrames == p.framesDone
            // Ten a second is plenty for a progress line; the last one always goes.
            guard lastProgress.withLock({ last in
                guard final || p.elapsed - last >= 0.1 else { return false }
                last = p.elapsed
                return true
            }) else { return }
            emit(.progress(framesDone: p.framesDone, totalFrames: p.totalFrames, elapsed: p.elapsed))
        }
        do {
            emit(.result(try spec.run(spec.request, onProgress: onProgress, onLog: { emit(.log($0)) })))
            return 0
        } catch {
            let category = ErrorCategory.of(error)
            emit(.failure(message: "\(error)", category: category))
            return category.exitCode
        }
    }

    /// The fault `VFX_TEST_JOB_FAULT` asks for on a job reading `inputName`, if any.
    public static func testFault(for inputName: String) -> String? {
        getenv(faultVariable).map { String(cString: $0) }.flatMap { value -> String? in
            let parts = value.split(separator: ":", maxSplits: 1).map(String.init)
            guard parts.count == 2, inputName.contains(parts[1]) else { return nil }
            return parts[0]
        }
    }

    /// Makes the fault happen (`crash`, `memory`, `hang`); nil does nothing.
    public static func injectFault(_ fault: String?) {
        switch fault {
        case "crash":
            // A real invalid access, as a decoder bug would make (a raised signal can be told apart).
            UnsafeMutablePointer<Int>(bitPattern: 16)!.pointee = 1
        case "memory":
            // Touch every page so it counts as resident, 32 MiB at a time, until the parent steps in.
            while true {
                let chunk = UnsafeMutableRawPointer.allocate(byteCount: 32 << 20, alignment: 4096)
                memset(chunk, 1, 32 << 20)
                usleep(10_000)
            }
        case "hang":
            // Said on standard error so a test knows the job is stuck before it signals.
            let note = "test fault: hanging\n"
            _ = note.withCString { write(2, $0, strlen($0)) }
            while true { sleep(1) }
        default: break
        }
    }

    static func limit(_ l: ProcessLimits) {
        func set(_ resource: Int32, _ value: Int) {
            var r = rlimit(rlim_cur: rlim_t(value), rlim_max: rlim_t(value))
            _ = setrlimit(__rlimit_resource_t(UInt32(resource)), &r)
        }
        set(Int32(RLIMIT_CPU.rawValue), l.cpuSeconds)
        set(Int32(RLIMIT_NOFILE.rawValue), l.openFiles)
        set(Int32(RLIMIT_FSIZE.rawValue), l.fileBytes)
    }

    static func readStandardInput(limit: Int) -> Data? {
        var data = Data()
        var buffer = [UInt8](repeating: 0, count: 64 << 10)
        while true {
            let n = buffer.withUnsafeMutableBytes { read(0, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n <= 0 { break }
            data.append(contentsOf: buffer[0..<n])
            if data.count > limit { return nil }
        }
        return data
    }

    static func emit(_ message: JobMessage) {
        guard var line = try? JSONEncoder().encode(message) else { return }
        line.append(UInt8(ascii: "\n"))
        writeAll(line, to: 1)
    }
}
