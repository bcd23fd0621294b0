#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MediaIO

extension OutputContainer {
    /// The container for a path's extension (the output catalogue's).
    public init(path: String) throws { self = try Recipe(input: "", output: path).outputContainer() }
}

/// Checks made on a request before any media is opened: the recipe against the catalogues, then what
/// needs FFmpeg to tell (the pixel format's name).
public enum RequestValidation {
    public static func validate(_ request: ProcessRequest) throws {
        try request.recipe.validate()
        if let format = request.pixelFormat, PixelFormat(named: format) == nil {
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
