import CFFmpeg
import CFFmpegLog
#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

/// FFmpeg's own console messages.
public enum FFmpegLog {
    // VideoFX reports problems itself, so FFmpeg stays quiet unless asked; applied once, lazily.
    private static let quietByDefault: Void = {
        av_log_set_level(AV_LOG_FATAL)
        // SVT-AV1 logs to stdout by itself; keep it to errors unless the user chose a level.
        setenv("SVT_LOG", "1", 0)
    }()

    /// Applies the quiet default if nothing was configured yet.
    static func ensureDefault() { _ = quietByDefault }

    /// Quiet keeps FFmpeg to fatal messages; verbose shows its warnings and info.
    public static func configure(verbose: Bool) {
        ensureDefault()
        av_log_set_level(verbose ? AV_LOG_INFO : AV_LOG_FATAL)
    }
}

extension FFmpegLog {
    /// Runs `body` keeping what FFmpeg says on this thread meanwhile (verbose and worse: a driver that
    /// will not load, a device that refuses a session), returned beside its result, one line each.
    static func capturing<T>(_ body: () throws -> T) rethrows -> (T, [String]) {
        ensureDefault()
        vfx_log_capture_begin()
        let result: T
        do { result = try body() } catch {
            _ = vfx_log_capture_end()
            throw error
        }
        let said = String(cString: vfx_log_capture_end()).split(separator: "\n")
            .map { String($0.drop(while: \.isWhitespace).reversed().drop(while: \.isWhitespace).reversed()) }
            .filter { !$0.isEmpty }
        return (result, said)
    }
}
