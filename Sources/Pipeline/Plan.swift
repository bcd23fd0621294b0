import CFFmpeg
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MediaIO

/// The output containers VideoFX writes, keyed by file extension.
public enum OutputContainer: String, Sendable, CaseIterable {
    case mp4, mov, mkv, webm

    /// The container for a path's extension.
    public init(path: String) throws {
        let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
        guard let c = OutputContainer(rawValue: ext) else { throw MediaError.unsupportedContainer(ext.isEmpty ? "(none)" : ".\(ext)") }
        self = c
    }

    var muxer: String {
        switch self {
        case .mp4: return "mp4"
        case .mov: return "mov"
        case .mkv: return "matroska"
        case .webm: return "webm"
        }
    }

    /// The MIME type of files in this container.
    public var mimeType: String {
        switch self {
        case .mp4: return "video/mp4"
        case .mov: return "video/quicktime"
        case .mkv: return "video/x-matroska"
        case .webm: return "video/webm"
        }
    }

    /// Whether this container can hold video of a bitstream format (h264, hevc, av1, vp9).
    public func allows(videoFormat: String) -> Bool {
        self == .webm ? ["vp9", "av1"].contains(videoFormat) : true
    }

    /// The container an output of this bitstream format gets when its name does not say: WebM for
    /// VP9, MP4 for the rest.
    public static func preferred(forVideoFormat format: String) -> OutputContainer {
        format == "vp9" ? .webm : .mp4
    }

    /// The audio encoder used when an input's audio codec cannot be copied in.
    var audioEncoder: String { self == .webm ? "libopus" : "aac" }

    var fastStart: Bool { self == .mp4 || self == .mov }
}

/// Checks made on a request before any media is opened: parameters, codec, container.
public enum RequestValidation {
    public static func validate(_ request: ProcessRequest) throws {
        _ = try Chain.resolve(request.steps)
        let container = try OutputContainer(path: request.output)
        guard let entry = CodecCatalog.entry(named: request.outputCodec) else {
            throw MediaError.unknownEncoder(request.outputCodec)
        }
        guard container.allows(videoFormat: entry.format) else {
            throw MediaError.codecNotAllowedInContainer(codec: entry.format.uppercased(), container: "WebM")
        }
        guard (0...entry.maxQuality).contains(request.quality) else {
            throw ParameterError.outOfRange("crf", "\(request.quality)", "0...\(entry.maxQuality) for \(entry.name)")
        }
        if let format = request.pixelFormat, PixelFormats.named(format) == nil {
            throw ParameterError.outOfRange("pixel format", format, "an FFmpeg pixel format such as yuv420p, yuv444p, yuv420p10le")
        }
    }
}

/// A request parameter outside what is allowed.
public enum ParameterError: Error, CategorizedError, CustomStringConvertible, Equatable {
    case outOfRange(String, String, String)
    public var category: ErrorCategory { .invalidInput }
    public var description: String {
        switch self { case let .outOfRange(p, v, a): return "\(p) \(v) is out of range (allowed: \(a))" }
    }
}
