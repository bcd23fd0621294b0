#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MediaIO

/// Turns what a user typed into something FFmpeg opens: paths stay paths, `file://` URLs become
/// paths, and network or `data:` URLs pass through.
public enum InputLocation {
    public static func resolve(_ input: String) throws -> String {
        let lower = input.lowercased()
        if lower.hasPrefix("file://") {
            guard let url = URL(string: input), url.isFileURL else { throw MediaError.invalidURL(input) }
            return url.path
        }
        if lower.hasPrefix("http://") || lower.hasPrefix("https://") || lower.hasPrefix("data:") { return input }
        if let colon = input.firstIndex(of: ":"), input[..<colon].allSatisfy({ $0.isLetter }), input[..<colon].count > 1 {
            throw MediaError.invalidURL("\(input) (supported: a path, file://, http://, https:// or data: URL)")
        }
        guard FileManager.default.fileExists(atPath: input) else {
            throw InputError.missing(input)
        }
        return input
    }
}

/// A local input that is not there.
public enum InputError: Error, CategorizedError, CustomStringConvertible, Equatable {
    case missing(String)
    public var category: ErrorCategory { .invalidInput }
    public var description: String {
        switch self { case .missing(let p): return "input file not found: \(p)" }
    }
}
