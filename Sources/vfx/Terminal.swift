import ArgumentParser
import Dispatch
import ErrorTaxonomy
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MediaIO
import Pipeline
import Synchronization

/// Writes one line to standard error.
func printError(_ s: String) {
    writeError(s + "\n")
}

/// `s` with spaces on the right up to `width` characters (never cut).
func padded(_ s: String, _ width: Int) -> String {
    s.count >= width ? s : s + String(repeating: " ", count: width - s.count)
}

/// Writes text to standard error as it is.
func writeError(_ s: String) {
    var bytes = Array(s.utf8)[...]
    while !bytes.isEmpty {
        let n = bytes.withUnsafeBytes { write(STDERR_FILENO, $0.baseAddress, $0.count) }
        if n < 0 && errno == EINTR { continue }
        guard n > 0 else { return }
        bytes = bytes.dropFirst(n)
    }
}

/// Runs `body`; an error other than an exit status becomes one line on standard error and the
/// exit status of its category.
func reportingFailure(_ body: () throws -> Void) throws {
    do { try body() } catch let e as ExitCode {
        throw e
    } catch {
        printError("error: \(error)")
        throw ExitCode(ErrorCategory.of(error).exitCode)
    }
}

/// Ctrl-C and SIGTERM cancel a job (which then removes what it wrote) instead of killing the process.
/// A codec stuck inside FFmpeg never sees the cancellation: a second signal, or the first one unanswered
/// for `grace` seconds, removes the files being written and exits at once (status 130).
final class InterruptHandler {
    private let sources: [DispatchSourceSignal]
    static let grace = 10.0

    init(cancelling flag: CancellationFlag) {
        signal(SIGINT, SIG_IGN)
        signal(SIGTERM, SIG_IGN)
        let count = Mutex(0)
        sources = [SIGINT, SIGTERM].map { sig in
            let s = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            s.setEventHandler {
                let n = count.withLock { $0 += 1; return $0 }
                if n > 1 { Self.stopNow() }
                flag.cancel()
                DispatchQueue.global().asyncAfter(deadline: .now() + Self.grace) { Self.stopNow() }
            }
            s.resume()
            return s
        }
    }

    private static func stopNow() {
        TemporaryFiles.removeAll()
        writeError("\nerror: stopped; no output written\n")
        _exit(ErrorCategory.cancelled.exitCode)
    }

    func stop() { sources.forEach { $0.cancel() } }
}

/// The last line of standard error as a status line: on a terminal it is redrawn in place and other
/// lines print above it; elsewhere nothing is drawn. Any thread may call it; the lock orders lines.
final class StatusLine: Sendable {
    let isTerminal = isatty(STDERR_FILENO) != 0
    private let shown = Mutex<String?>(nil)

    /// Draws `text` as the status line (on a terminal only).
    func show(_ text: String) {
        guard isTerminal else { return }
        shown.withLock { s in
            writeError("\r\u{1B}[K" + text)
            s = text
        }
    }

    /// Prints `text` as a line of its own, keeping the status line below it.
    func print(_ text: String) {
        shown.withLock { s in
            if s != nil { writeError("\r\u{1B}[K") }
            printError(text)
            if let s { writeError(s) }
        }
    }

    /// Takes the status line away, or with `keep` leaves it on screen as an ordinary line.
    func end(keep: Bool = false) {
        shown.withLock { s in
            if s != nil { writeError(keep ? "\n" : "\r\u{1B}[K") }
            s = nil
        }
    }
}

/// A 30-character bar, `[####......]`, for `done` of `total`.
func progressBar(_ done: Int, of total: Int) -> String {
    let filled = total > 0 ? max(0, min(30, done * 30 / total)) : 0
    return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: 30 - filled) + "]"
}
