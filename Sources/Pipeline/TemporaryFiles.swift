#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// The files jobs are writing under temporary names, so a process forced to stop at once (a second
/// Ctrl-C while a codec does not return) can still remove them; and the naming scheme itself.
public enum TemporaryFiles {
    /// The hidden name a job writes `output` under: `.NAME.vfx-TOKEN.EXT` beside it (the same folder, so
    /// the final rename stays on one file system; the same extension, so the muxer is the same).
    public static func name(for output: String, token: String) -> String {
        let (stem, ext) = split(output)
        return ".\(stem).vfx-\(token).\(ext)"
    }

    /// Whether a file name in `output`'s folder is one of its temporary names (a killed run's leftover).
    public static func isTemporary(_ name: String, of output: String) -> Bool {
        let (stem, ext) = split(output)
        return name.hasPrefix(".\(stem).vfx-") && name.hasSuffix(".\(ext)")
    }

    /// Removes what runs that were killed left of `outputs` (their temporary names beside them).
    public static func removeLeftovers(of outputs: [String]) {
        let byDirectory = Dictionary(grouping: outputs) { path -> String in
            guard let slash = path.lastIndex(of: "/") else { return "." }
            return slash == path.startIndex ? "/" : String(path[..<slash])
        }
        for (directory, paths) in byDirectory {
            guard let dir = opendir(directory) else { continue }
            var names: [String] = []
            while let entry = readdir(dir) {
                names.append(withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) })
            }
            closedir(dir)
            for name in names where paths.contains(where: { isTemporary(name, of: $0) }) { unlink(directory + "/" + name) }
        }
    }

    private static func split(_ path: String) -> (stem: String, ext: String) {
        let file = path.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? path
        guard let dot = file.lastIndex(of: "."), dot != file.startIndex else { return (file, "") }
        return (String(file[..<dot]), String(file[file.index(after: dot)...]))
    }

    private static let paths = Mutex<Set<String>>([])

    public static func register(_ path: String) { _ = paths.withLock { $0.insert(path) } }
    public static func unregister(_ path: String) { _ = paths.withLock { $0.remove(path) } }

    /// Removes every registered file now.
    public static func removeAll() {
        for p in paths.withLock({ $0 }) { unlink(p) }
    }
}
