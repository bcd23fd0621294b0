#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Pipeline

/// Turns `vfx batch` arguments into input paths: files and URLs as given, directories walked
/// recursively for files whose content is video (probed, not guessed from the name).
public enum InputDiscovery {
    /// `include` is a shell glob matched against each file's name or its path below the directory.
    public static func expand(_ arguments: [String], include: String? = nil) throws -> [String] {
        var out: [String] = []
        for argument in arguments {
            guard isDirectory(argument) else {
                out.append(argument)  // a file, a URL, or something missing: the item reports it
                continue
            }
            let paths = ((try? FileManager.default.subpathsOfDirectory(atPath: argument)) ?? []).sorted()
            for relative in paths {
                let name = relative.split(separator: "/").last.map(String.init) ?? relative
                // Hidden files (our own unfinished outputs among them) are never inputs.
                if relative.split(separator: "/").contains(where: { $0.hasPrefix(".") }) { continue }
                if let include, fnmatch(include, name, 0) != 0, fnmatch(include, relative, 0) != 0 { continue }
                let path = (argument.hasSuffix("/") ? argument : argument + "/") + relative
                guard !isDirectory(path) else { continue }
                if (try? MediaInfo.probe(path))?.videoStream != nil { out.append(path) }
            }
        }
        return out
    }

    /// Whether `path` is a folder.
    public static func isDirectory(_ path: String) -> Bool {
        var info = stat()
        return stat(path, &info) == 0 && info.st_mode & S_IFMT == S_IFDIR
    }
}
