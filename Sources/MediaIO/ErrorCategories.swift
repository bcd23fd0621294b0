import CFFmpeg
@_exported import ErrorTaxonomy

extension MediaError: CategorizedError {
    public var category: ErrorCategory {
        switch self {
        case .noVideoStream, .noDecoder, .noFramesDecoded, .timingMismatch, .audioStream: return .badMedia
        case .unsupportedPixelFormat, .unsupportedPreviewFormat, .outputNotWritable,
             .limitExceeded, .invalidURL, .noFramesFromSteps:
            return .invalidInput
        case .encoderUnavailable: return .unavailable
        case .frameCountMismatch: return .internal
        case .cancelled: return .cancelled
        }
    }
}

extension FFmpegError: CategorizedError {
    /// Reading an input: network trouble is transient or unavailable, anything else is the media's fault;
    /// writing: an output that cannot be created is unavailable; the rest is ours.
    public var category: ErrorCategory {
        let op = operation
        let transient: Set<Int32> = [-ETIMEDOUT, -ECONNRESET, -EAGAIN, -EPIPE]
        let unavailable: Set<Int32> = [-ECONNREFUSED, -EHOSTUNREACH, -ENETUNREACH, -ENOENT, -EACCES]
        if transient.contains(code) { return .transient }
        // libavformat's HTTP errors are tagged 0xF8 then the status digits: 5xx may pass, 4xx will not.
        if code < 0, (-code) & 0xFF == 0xF8 { return ((-code) >> 8) & 0xFF == 0x35 ? .transient : .unavailable }
        if unavailable.contains(code) { return op.readsInput || op == .create ? .unavailable : .internal }
        if op.readsInput { return .badMedia }
        switch op {
        case .create: return .unavailable
        case .configure: return .invalidInput
        default: return .internal
        }
    }
}
