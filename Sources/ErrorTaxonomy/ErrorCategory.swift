/// What kind of failure an error is: the one taxonomy that exit codes, HTTP statuses and retries key off.
public enum ErrorCategory: String, Sendable, Codable, CaseIterable {
    /// The request itself is wrong: an unknown effect, a parameter out of range, a bad output name.
    case invalidInput = "invalid_input"
    /// The media cannot be processed: not a video, truncated, no video stream, an unsupported codec.
    case badMedia = "bad_media"
    /// Something the job needs is not there: an encoder that cannot open, an unreachable URL.
    case unavailable
    /// The job was cancelled (Ctrl-C, a cancel request, a client that hung up).
    case cancelled
    /// A failure that may pass if tried again: a network timeout, a 5xx from a server.
    case transient
    /// A bug or an environment problem on our side.
    case `internal`

    /// The process exit status `vfx` uses for a failure of this kind.
    public var exitCode: Int32 {
        switch self {
        case .internal: return 1
        case .invalidInput: return 2
        case .badMedia: return 3
        case .unavailable: return 4
        case .transient: return 5
        case .cancelled: return 130
        }
    }

    /// The HTTP status for a request refused with this kind of failure before any work starts.
    public var httpStatus: Int {
        switch self {
        case .invalidInput, .badMedia: return 422
        case .unavailable: return 503
        case .transient: return 503
        case .cancelled: return 409
        case .internal: return 500
        }
    }

    /// Whether trying the same job again may succeed.
    public var isRetryable: Bool { self == .transient }
}

/// An error that knows its ``ErrorCategory``.
public protocol CategorizedError: Error {
    var category: ErrorCategory { get }
}

extension ErrorCategory {
    /// The category of any error: its own when it knows it, else internal.
    public static func of(_ error: any Error) -> ErrorCategory {
        if error is CancellationError { return .cancelled }
        return (error as? any CategorizedError)?.category ?? .internal
    }
}
