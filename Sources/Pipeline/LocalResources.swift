#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Effects
import MediaIO
import Recipe

/// Reads the files steps name on the command line: a path, a `file://` URL or a `data:` URL.
public enum LocalResources {
    /// The largest resource read.
    public static let maxBytes = CubeLUT.maxBytes

    public static let read: ResourceReader = { location in
        if location.lowercased().hasPrefix("data:") { return try DataURL.decode(location, maxBytes: maxBytes) }
        if location.lowercased().hasPrefix("http://") || location.lowercased().hasPrefix("https://") {
            throw RecipeError.resource(step: "lut", location: location, reason: "the command line reads LUTs from files; download it first")
        }
        let path = try InputLocation.resolve(location)
        guard let file = fopen(path, "rb") else { throw InputError.missing(location) }
        defer { fclose(file) }
        var bytes = [UInt8](repeating: 0, count: maxBytes + 1)
        let n = bytes.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, file) }
        guard n <= maxBytes else {
            throw RecipeError.resource(step: "lut", location: location, reason: "larger than \(maxBytes) bytes")
        }
        return Array(bytes[..<n])
    }
}

/// RFC 2397 `data:` URLs: the one decoder the command line and the server share.
public enum DataURL {
    /// Why a data: URL was refused.
    public enum Problem: Error, Equatable, Sendable {
        case malformed(String)
        case tooLarge(Int)
    }

    /// The bytes of `url`, at most `maxBytes`: strict base64 (the alphabet, and padding to a multiple of
    /// four) after `;base64`, else percent-encoded.
    public static func bytes(_ url: String, maxBytes: Int) throws(Problem) -> [UInt8] {
        guard url.lowercased().hasPrefix("data:") else { throw .malformed("not a data: URL") }
        guard let comma = url.firstIndex(of: ",") else { throw .malformed("no comma before the data") }
        let header = url[..<comma].lowercased()
        let body = String(url[url.index(after: comma)...])
        guard body.utf8.count <= maxBytes / 3 * 4 + 4 else { throw .tooLarge(maxBytes) }
        let bytes: [UInt8]
        if header.hasSuffix(";base64") {
            guard body.utf8.count % 4 == 0, let d = Data(base64Encoded: body) else { throw .malformed("the data is not strict base64") }
            bytes = [UInt8](d)
        } else {
            guard let decoded = try? percentDecoded(body) else { throw .malformed("the data has a bad %-escape") }
            bytes = decoded
        }
        guard bytes.count <= maxBytes else { throw .tooLarge(maxBytes) }
        return bytes
    }

    /// ``bytes(_:maxBytes:)`` with the engine's error for a refused URL.
    public static func decode(_ url: String, maxBytes: Int) throws -> [UInt8] {
        do { return try bytes(url, maxBytes: maxBytes) } catch {
            switch error {
            case .malformed(let why): throw MediaError.invalidURL("data: URL: \(why)")
            case .tooLarge(let n): throw MediaError.invalidURL("data: URL over \(n) bytes")
            }
        }
    }

    private static func percentDecoded(_ s: String) throws -> [UInt8] {
        var out: [UInt8] = [], utf8 = Array(s.utf8), i = 0
        func hex(_ c: UInt8) -> UInt8? {
            switch c { case 48...57: return c - 48; case 65...70: return c - 55; case 97...102: return c - 87; default: return nil }
        }
        while i < utf8.count {
            if utf8[i] == UInt8(ascii: "%") {
                guard i + 2 < utf8.count, let hi = hex(utf8[i + 1]), let lo = hex(utf8[i + 2]) else {
                    throw MediaError.invalidURL("data: URL with invalid percent-encoding")
                }
                out.append(hi << 4 | lo); i += 3
            } else { out.append(utf8[i]); i += 1 }
        }
        utf8 = []
        return out
    }
}
