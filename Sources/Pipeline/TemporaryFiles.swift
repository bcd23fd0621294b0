#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The files jobs are writing under temporary names, so a process forced to stop at once (a second
/// Ctrl-C while a codec does not return) can still remove them.
public enum TemporaryFiles {
    private static let paths = Mutex<Set<String>>([])

    public static func register(_ path: String) { _ = paths.withLock { $0.insert(path) } }
    public static func unregister(_ path: String) { _ = paths.withLock { $0.remove(path) } }

    /// Removes every registered file now.
    public static func removeAll() {
        for p in paths.withLock({ $0 }) { unlink(p) }
    }
}
