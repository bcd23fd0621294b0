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
        let reading = ["avformat_open_input", "avformat_find_stream_info", "av_read_frame", "avcodec_send_packet",
                       "avcodec_receive_frame", "avcodec_parameters_to_context"].contains { call.hasPrefix($0) }
        let transient: Set<Int32> = [-ETIMEDOUT, -ECONNRESET, -EAGAIN, -EPIPE]
        let unavailable: Set<Int32> = [-ECONNREFUSED, -EHOSTUNREACH, -ENETUNREACH, -ENOENT, -EACCES]
        if transient.contains(code) { return .transient }
        // libavformat's HTTP errors are tagged 0xF8 then the status digits: 5xx may pass, 4xx will not.
        if code < 0, (-code) & 0xFF == 0xF8 { return ((-code) >> 8) & 0xFF == 0x35 ? .transient : .unavailable }
        if unavailable.contains(code) { return reading || call.hasPrefix("avio_open") ? .unavailable : .internal }
        if reading { return .badMedia }
        if call.hasPrefix("avio_open") { return .unavailable }
        if call.hasPrefix("av_opt_set") || call.hasPrefix("avfilter_get_by_name") { return .invalidInput }
        return .internal
    }
}
