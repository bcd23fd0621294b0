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

/// RFC 2397 `data:` URLs.
public enum DataURL {
    /// The bytes of `url` (base64 or percent-encoded), at most `maxBytes`.
    public static func decode(_ url: String, maxBytes: Int) throws -> [UInt8] {
        guard let comma = url.firstIndex(of: ",") else { throw MediaError.invalidURL("data: URL without a comma") }
        let header = url[url.index(url.startIndex, offsetBy: 5)..<comma].lowercased()
        let body = String(url[url.index(after: comma)...])
        guard body.utf8.count <= maxBytes * 4 / 3 + 4 else { throw MediaError.invalidURL("data: URL over \(maxBytes) bytes") }
        let bytes: [UInt8]
        if header.hasSuffix(";base64") {
            guard let d = Data(base64Encoded: body) else { throw MediaError.invalidURL("data: URL with invalid base64") }
            bytes = [UInt8](d)
        } else {
            bytes = try percentDecoded(body)
        }
        guard bytes.count <= maxBytes else { throw MediaError.invalidURL("data: URL over \(maxBytes) bytes") }
        return bytes
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
