#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Recipe

/// One line of a batch manifest: an input, and optionally its output and overrides of the
/// batch's chain and output settings.
public struct ManifestEntry: Sendable, Equatable {
    public var input: String
    public var output: String?
    public var chain: [ChainStep]?
    public var settings: OutputSettingsOverride
    public var line: Int
}

/// Per-item overrides of the batch's output settings (nil: the batch's own).
public struct OutputSettingsOverride: Sendable, Equatable {
    public var codec: String?
    public var quality: Int?
    public var preset: String?
    public var pixelFormat: String?
    public var audio: AudioPolicy?
    public var decoder: DecoderChoice?

    public init() {}

    /// `base` with these overrides applied.
    public func applied(to base: OutputSettings) -> OutputSettings {
        var s = base
        if let codec { s.codec = codec }
        if let quality { s.quality = quality }
        if let preset { s.preset = preset }
        if let pixelFormat { s.pixelFormat = pixelFormat }
        if let audio { s.audio = audio }
        if let decoder { s.decoder = decoder }
        return s
    }
}

/// Reads a manifest: CSV with a header row (`input` required; `output`, `chain`, `codec`, `crf`,
/// `preset`, `pixel_format`, `audio`, `decoder` optional), or JSON Lines (`.jsonl`, one object per line with
/// the same keys; `chain` a string in the chain grammar or an array of steps). Errors name the line.
public enum Manifest {
    public static let columns = ["input", "output", "chain", "codec", "crf", "preset", "pixel_format", "audio", "decoder"]
    /// The largest manifest read.
    public static let maxBytes = 64 << 20

    public static func read(_ path: String) throws -> [ManifestEntry] {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw BatchError.manifest(file: path, line: 0, reason: "cannot read the file")
        }
        guard data.count <= maxBytes else { throw BatchError.manifest(file: path, line: 0, reason: "larger than \(maxBytes >> 20) MiB") }
        guard let text = String(data: data, encoding: .utf8) else { throw BatchError.manifest(file: path, line: 0, reason: "not UTF-8 text") }
        let entries = path.lowercased().hasSuffix(".jsonl") || path.lowercased().hasSuffix(".ndjson")
            ? try jsonLines(text, file: path) : try csv(text, file: path)
        guard !entries.isEmpty else { throw BatchError.manifest(file: path, line: 1, reason: "no items") }
        return entries
    }

    static func csv(_ text: String, file: String) throws -> [ManifestEntry] {
        let rows = try csvRows(text, file: file)
        guard let (headerLine, header) = rows.first else { return [] }
        let names = header.map { trim($0).lowercased() }
        for name in names where !columns.contains(name) {
            throw BatchError.manifest(file: file, line: headerLine, reason: "unknown column '\(name.prefix(64))' (columns: \(columns.joined(separator: ", ")))")
        }
        guard names.contains("input") else { throw BatchError.manifest(file: file, line: headerLine, reason: "the header has no 'input' column") }
        return try rows.dropFirst().compactMap { line, fields in
            if fields.allSatisfy({ trim($0).isEmpty }) { return nil }
            guard fields.count <= names.count else {
                throw BatchError.manifest(file: file, line: line, reason: "\(fields.count) fields where the header has \(names.count)")
            }
            var values: [String: String] = [:]
            for (name, value) in zip(names, fields) where !value.isEmpty { values[name] = value }
            return try entry(values.mapValues { .string($0) }, file: file, line: line)
        }
    }

    /// Rows of fields with the line each starts on (RFC 4180: quotes, doubled quotes, newlines inside quotes).
    static func csvRows(_ text: String, file: String) throws -> [(Int, [String])] {
        var rows: [(Int, [String])] = []
        var field = "", fields: [String] = [], quoted = false, line = 1, rowLine = 1
        var chars = Array(text)[...]
        while let c = chars.first {
            chars = chars.dropFirst()
            if quoted {
                if c == "\"" {
                    if chars.first == "\"" { field.append("\""); chars = chars.dropFirst() } else { quoted = false }
                } else {
                    if c == "\n" { line += 1 }
                    field.append(c)
                }
                continue
            }
            switch c {
            case "\"" where field.isEmpty: quoted = true
            case ",": fields.append(field); field = ""
            case "\r": continue
            case "\n":
                fields.append(field); rows.append((rowLine, fields))
                field = ""; fields = []; line += 1; rowLine = line
            default: field.append(c)
            }
        }
        if quoted { throw BatchError.manifest(file: file, line: rowLine, reason: "unterminated quote") }
        if !field.isEmpty || !fields.isEmpty { fields.append(field); rows.append((rowLine, fields)) }
        return rows
    }

    static func jsonLines(_ text: String, file: String) throws -> [ManifestEntry] {
        var out: [ManifestEntry] = []
        for (i, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = trim(String(raw))
            if line.isEmpty || line.hasPrefix("#") { continue }
            let object: [String: LineValue]
            do { object = try JSONDecoder().decode([String: LineValue].self, from: Data(line.utf8)) } catch {
                throw BatchError.manifest(file: file, line: i + 1, reason: "not a JSON object of strings, numbers and a chain")
            }
            var values: [String: JSONField] = [:]
            for key in object.keys.sorted() {
                guard columns.contains(key) else {
                    throw BatchError.manifest(file: file, line: i + 1, reason: "unknown key '\(key.prefix(64))' (keys: \(columns.joined(separator: ", ")))")
                }
                switch object[key]! {
                case .text(let s): values[key] = .string(s)
                case .steps(let steps) where key == "chain": values[key] = .steps(steps)
                case .steps: throw BatchError.manifest(file: file, line: i + 1, reason: "\(key) must be a string or a number")
                }
            }
            out.append(try entry(values, file: file, line: i + 1))
        }
        return out
    }

    /// A value on a JSON Lines manifest line: text (strings and numbers) or a chain of steps.
    enum LineValue: Decodable {
        case text(String), steps([ChainStep])
        init(from decoder: any Decoder) throws {
            let c = try decoder.singleValueContainer()
            if let s = try? c.decode(String.self) { self = .text(s) } else if let i = try? c.decode(Int.self) { self = .text(String(i)) }
            else if let d = try? c.decode(Double.self) { self = .text(String(d)) } else { self = .steps(try c.decode([ChainStep].self)) }
        }
    }

    static func trim(_ s: String) -> String {
        var t = Substring(s)
        while let c = t.first, c.isWhitespace { t = t.dropFirst() }
        while let c = t.last, c.isWhitespace { t = t.dropLast() }
        return String(t)
    }

    enum JSONField { case string(String), steps([ChainStep]) }

    static func entry(_ values: [String: JSONField], file: String, line: Int) throws -> ManifestEntry {
        func string(_ key: String) -> String? {
            if case .string(let s)? = values[key] { return trim(s) } else { return nil }
        }
        func fail(_ reason: String) -> BatchError { .manifest(file: file, line: line, reason: reason) }
        guard let input = string("input"), !input.isEmpty else { throw fail("no input") }
        var chain: [ChainStep]?
        switch values["chain"] {
        case .string(let s)?:
            do { chain = try Chain.parse(s); _ = try Chain.resolve(chain!) } catch { throw fail("\(error)") }
        case .steps(let steps)?:
            do { _ = try Chain.resolve(steps) } catch { throw fail("\(error)") }
            chain = steps
        case nil: break
        }
        var settings = OutputSettingsOverride()
        settings.codec = string("codec")
        if let crf = string("crf") {
            let bounds = OutputCatalogue.qualityBounds
            guard let q = Int(crf), bounds.contains(q) else {
                throw fail("crf '\(crf.prefix(32))' must be a whole number in \(bounds.lowerBound)...\(bounds.upperBound)")
            }
            settings.quality = q
        }
        settings.preset = string("preset")
        settings.pixelFormat = string("pixel_format")
        if let audio = string("audio") {
            guard let policy = AudioPolicy(rawValue: audio) else { throw fail("audio '\(audio.prefix(32))' must be keep or drop") }
            settings.audio = policy
        }
        if let decoder = string("decoder") {
            guard let choice = DecoderChoice(rawValue: decoder) else {
                throw fail("decoder '\(decoder.prefix(32))' must be \(DecoderChoice.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            settings.decoder = choice
        }
        let output = string("output").flatMap { $0.isEmpty ? nil : $0 }
        if let output, output.contains("\0") { throw fail("output holds a NUL byte") }
        return ManifestEntry(input: input, output: output, chain: chain, settings: settings, line: line)
    }
}
