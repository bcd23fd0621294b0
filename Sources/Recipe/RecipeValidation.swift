import ErrorTaxonomy

/// What is wrong with a recipe's output side, in words derived from the output catalogue.
public enum OutputError: Error, CategorizedError, CustomStringConvertible, Equatable, Sendable {
    case unknownCodec(String)
    case unsupportedContainer(String)
    case codecNotAllowed(codec: String, container: OutputContainer)
    case qualityOutOfRange(Int, encoder: String)

    public var category: ErrorCategory { .invalidInput }

    public var description: String {
        switch self {
        case .unknownCodec(let name):
            return "unknown output codec '\(name.prefix(64))' (known: \(OutputCatalogue.encoders.map(\.name).joined(separator: ", ")))"
        case .unsupportedContainer(let ext):
            let known = OutputCatalogue.containers.map { "." + $0.fileExtension }
            return "unsupported output container '\(ext.prefix(32))' (use \(known.dropLast().joined(separator: ", ")) or \(known.last ?? ""))"
        case let .codecNotAllowed(codec, container):
            let formats = (container.videoFormats ?? []).map { $0.uppercased() }
            return "\(container.label) cannot hold \(codec.uppercased()) video (\(container.label) takes \(formats.joined(separator: " or ")) only)"
        case let .qualityOutOfRange(value, encoder):
            let r = OutputCatalogue.encoder(named: encoder)?.quality.range ?? 0...0
            return "crf \(value) is out of range (allowed: \(r.lowerBound)...\(r.upperBound) for \(encoder))"
        }
    }
}

extension Recipe {
    /// The one check of a job against the catalogues, before any media is opened: every step and its
    /// parameters, the output's container (from its extension), the codec, whether the container holds
    /// it, and the quality for that codec. CLI flags, manifest rows and API inputs all end here.
    public func validate() throws {
        _ = try Chain.resolve(steps)
        let container = try outputContainer()
        let codec = settings.codec ?? OutputCatalogue.defaultCodec
        guard let encoder = OutputCatalogue.encoder(named: codec) else { throw OutputError.unknownCodec(codec) }
        guard container.allows(videoFormat: encoder.format) else {
            throw OutputError.codecNotAllowed(codec: encoder.format, container: container)
        }
        if let q = settings.quality, !encoder.quality.range.contains(q) { throw OutputError.qualityOutOfRange(q, encoder: codec) }
    }

    /// The container the output's extension names.
    public func outputContainer() throws -> OutputContainer {
        let name = output.split(separator: "/", omittingEmptySubsequences: false).last.map(String.init) ?? output
        let ext = name.contains(".") ? String(name.split(separator: ".", omittingEmptySubsequences: false).last!).lowercased() : ""
        guard let c = OutputCatalogue.container(extension: ext) else { throw OutputError.unsupportedContainer(ext.isEmpty ? "(none)" : ".\(ext)") }
        return c
    }
}
