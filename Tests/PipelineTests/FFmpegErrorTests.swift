import ErrorTaxonomy
import Glibc
@testable import MediaIO
import Testing

/// FFmpeg's failures are told by the operation that failed and FFmpeg's code, in the taxonomy's terms.
@Suite struct FFmpegErrorTests {
    static let invalidData: Int32 = -0x41444E49  // AVERROR_INVALIDDATA: FFERRTAG('I','N','D','A')

    @Test(arguments: [
        ("av_read_frame", invalidData, FFmpegOperation.read, ErrorCategory.badMedia, "cannot read"),
        ("avcodec_send_packet(h264)", invalidData, .decode, .badMedia, "cannot decode"),
        ("avformat_open_input", -ECONNREFUSED, .open, .unavailable, "cannot open"),
        ("avformat_open_input", -ETIMEDOUT, .open, .transient, "cannot open"),
        ("avio_open2", -EACCES, .create, .unavailable, "cannot create"),
        ("avcodec_open2(libx264)", -EINVAL, .openCodec, .internal, "cannot open a codec for"),
        ("av_opt_set(crf)", -EINVAL, .configure, .invalidInput, "failed on"),
        ("av_write_trailer", -ENOSPC, .finishWriting, .internal, "cannot finish writing"),
        ("something_else", -EINVAL, .other, .internal, "failed on"),
    ] as [(String, Int32, FFmpegOperation, ErrorCategory, String)])
    func operationAndCategory(call: String, code: Int32, operation: FFmpegOperation, category: ErrorCategory, action: String) {
        let e = FFmpegError(call: call, path: "clip.mp4", code: code)
        #expect(e.operation == operation && e.category == category && e.action == action)
        #expect("\(e)".hasPrefix("clip.mp4: \(action) it: "))
    }

    /// libavformat tags HTTP failures: a 5xx may pass on a retry, a 4xx will not.
    @Test func httpStatusesFromTheNetwork() {
        func tag(_ s: String) -> Int32 { let b = Array(s.utf8); return -(Int32(0xF8) | Int32(b[0]) << 8 | Int32(b[1]) << 16 | Int32(b[2]) << 24) }
        #expect(FFmpegError(call: "avformat_open_input", path: nil, code: tag("503")).category == .transient)
        #expect(FFmpegError(call: "avformat_open_input", path: nil, code: tag("404")).category == .unavailable)
    }
}
