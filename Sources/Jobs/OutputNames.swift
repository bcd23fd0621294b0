#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import Recipe

/// Output file names from a template: `{stem}`, `{ext}` (see ``container(forInputExtension:codec:)``), `{index}` (1-based, zero-padded to the
/// batch's width) and `{effect}` (the chain's step names joined by `-`, or `none`).
public struct OutputNames: Sendable {
    /// The default: `clip.mov` becomes `clip.vfx.mov`.
    public static let defaultTemplate = "{stem}.vfx.{ext}"

    public let template: String

    public init(_ template: String = OutputNames.defaultTemplate) throws {
        guard !template.isEmpty, !template.contains("/"), !template.contains("\0") else {
            throw BatchError.template(template, reason: "must be a file name (no '/')")
        }
        var rest = Substring(template)
        while let open = rest.firstIndex(of: "{") {
            guard let close = rest[open...].firstIndex(of: "}") else { throw BatchError.template(template, reason: "unclosed '{'") }
            let key = rest[rest.index(after: open)..<close]
            guard ["stem", "ext", "index", "effect"].contains(key) else {
                throw BatchError.template(template, reason: "unknown field {\(key)} (use {stem}, {ext}, {index}, {effect})")
            }
            rest = rest[rest.index(after: close)...]
        }
        self.template = template
    }

    /// `{ext}`: the input's own container when VideoFX writes it and it can hold the output codec,
    /// else the container the output catalogue prefers for the codec (`.webm` for VP9, `.mp4` otherwise);
    /// VP9 always gets `.webm`.
    public static func container(forInputExtension ext: String, codec: String?) -> OutputContainer {
        let format = OutputCatalogue.encoder(named: codec ?? OutputCatalogue.defaultCodec)?.format
        let own = OutputCatalogue.container(extension: ext) ?? .mp4
        guard let format else { return own }
        let preferred = OutputCatalogue.preferredContainer(forVideoFormat: format)
        // A format with a container of its own (VP9: WebM) always gets it.
        if preferred.videoFormats != nil || !own.allows(videoFormat: format) { return preferred }
        return own
    }

    /// The name for the `index`-th (0-based) of `count` inputs.
    public func name(input: String, index: Int, count: Int, steps: [ChainStep], codec: String?) -> String {
        let url = URL(fileURLWithPath: input.hasPrefix("http") ? (URL(string: input)?.path ?? input) : input)
        let stem = url.deletingPathExtension().lastPathComponent
        let ext = Self.container(forInputExtension: url.pathExtension, codec: codec).fileExtension
        let width = String(count).count
        let number = String(index + 1)
        let padded = String(repeating: "0", count: max(0, width - number.count)) + number
        let effect = steps.isEmpty ? "none" : steps.map(\.name).joined(separator: "-")
        let values = ["stem": stem.isEmpty ? "video" : stem, "ext": ext, "index": padded, "effect": effect]
        // Fields were checked in init: every '{' opens a known one.
        var out = "", rest = Substring(template)
        while let open = rest.firstIndex(of: "{"), let close = rest[open...].firstIndex(of: "}") {
            out += rest[..<open]
            out += values[String(rest[rest.index(after: open)..<close])] ?? ""
            rest = rest[rest.index(after: close)...]
        }
        return out + rest
    }
}
