import CFFmpeg

/// An FFmpeg call that failed: which call, on which file, and FFmpeg's own message.
public struct FFmpegError: Error, CustomStringConvertible, Sendable {
    public let call: String
    public let path: String?
    public let code: Int32

    public var message: String { ffmpegMessage(code) }

    /// What the failing call was doing.
    public var operation: FFmpegOperation { FFmpegOperation(call: call) }

    /// What the failing call was doing, in a user's words.
    public var action: String { operation.action }

    public var description: String {
        if let path { return "\(path): \(action) it: \(message) (\(call))" }
        return "\(call) failed: \(message)"
    }
}

/// FFmpeg's text for an error code.
public func ffmpegMessage(_ code: Int32) -> String {
    var buffer = [CChar](repeating: 0, count: 256)
    if av_strerror(code, &buffer, buffer.count) < 0 { return "error \(code)" }
    return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}

/// The one funnel from FFmpeg return codes to Swift errors: returns non-negative codes,
/// throws ``FFmpegError`` naming `call` and `path` for negative ones.
@discardableResult
@inline(__always)
package func check(_ code: Int32, _ call: @autoclosure () -> String, path: String? = nil) throws -> Int32 {
    if code < 0 { throw FFmpegError(call: call(), path: path, code: code) }
    return code
}

/// Result codes that are outcomes rather than failures.
package enum AVResult {
    package static let again = vfx_averror_eagain()
    package static let endOfFile = vfx_averror_eof()
    package static let invalidData = vfx_averror_invaliddata()
}

/// What one receive produced (named apart from the chain's steps, ``ChainStep``).
public enum Pulled<Value> {
    /// A value came out.
    case value(Value)
    /// Nothing now: feed more input first ("try again").
    case needsInput
    /// The stage is fully drained.
    case endOfStream
}

/// What a failing libav call was doing: the one place that reads a call's name. Messages and the
/// error's category (see `ErrorCategories.swift`) key off it, never off the name.
public enum FFmpegOperation: Sendable, Equatable {
    case open, probe, read, decode, openCodec, create, startWriting, write, finishWriting, encode, configure, other

    init(call: String) {
        let table: [(String, FFmpegOperation)] = [
            ("avformat_open_input", .open), ("avformat_find_stream_info", .probe), ("av_read_frame", .read),
            ("avcodec_send_packet", .decode), ("avcodec_receive_frame", .decode), ("avcodec_parameters_to_context", .decode),
            ("avcodec_open2", .openCodec), ("avio_open", .create), ("avformat_write_header", .startWriting),
            ("av_interleaved_write_frame", .write), ("av_write_trailer", .finishWriting), ("avio_closep", .finishWriting),
            ("avcodec_send_frame", .encode), ("avcodec_receive_packet", .encode), ("av_opt_set", .configure),
            ("avfilter_get_by_name", .configure),
        ]
        self = table.first { call.hasPrefix($0.0) }?.1 ?? .other
    }

    /// In a user's words ("cannot decode").
    public var action: String {
        switch self {
        case .open: return "cannot open"
        case .probe: return "cannot read the streams of"
        case .read: return "cannot read"
        case .decode: return "cannot decode"
        case .openCodec: return "cannot open a codec for"
        case .create: return "cannot create"
        case .startWriting: return "cannot start writing"
        case .write: return "cannot write"
        case .finishWriting: return "cannot finish writing"
        case .encode: return "cannot encode"
        case .configure, .other: return "failed on"
        }
    }

    /// Whether it reads the input (its failures are the media's, or the network's).
    public var readsInput: Bool { [.open, .probe, .read, .decode].contains(self) }
}

/// Problems with media that are not a single FFmpeg call failing.
public enum MediaError: Error, CustomStringConvertible, Equatable, Sendable {
    case noVideoStream(String)
    case noDecoder(codec: String)
    case encoderUnavailable(name: String, reason: String)
    case unsupportedPixelFormat(String, encoder: String, supported: [String])
    /// A preview asked to write something other than a PNG.
    case unsupportedPreviewFormat(String)
    case outputNotWritable(path: String, reason: String)
    case noFramesDecoded(String)
    case frameCountMismatch(output: String, decoded: Int, written: Int)
    /// The written file would not play as its content says (a hidden leading gap, a wrong length).
    case timingMismatch(output: String, expectedStart: Double, expectedEnd: Double, start: Double, end: Double)
    /// A video over one of the job's limits (`limit` names it, as the server's settings do).
    case limitExceeded(input: String, limit: String, value: String, maximum: String)
    /// An audio stream that cannot go into the output.
    case audioStream(input: String, stream: String, reason: String)
    case cancelled
    case invalidURL(String)
    /// The steps left no frame (a trim past the end, for one).
    case noFramesFromSteps(input: String, steps: String)

    public var description: String {
        switch self {
        case .noVideoStream(let path): return "\(path) has no video stream"
        case .noDecoder(let codec): return "no decoder for the video codec '\(codec)' in this FFmpeg build"
        case let .encoderUnavailable(name, reason): return "encoder \(name) cannot open on this machine: \(reason)"
        case let .unsupportedPixelFormat(fmt, encoder, supported):
            return "pixel format \(fmt) is not supported by \(encoder) (supported: \(supported.joined(separator: ", ")))"
        case .unsupportedPreviewFormat(let path): return "\(path): a preview is written as a .png file"
        case let .outputNotWritable(path, reason): return "cannot write output \(path): \(reason)"
        case .noFramesDecoded(let path): return "no video frame could be decoded from \(path)"
        case let .frameCountMismatch(output, decoded, written):
            return "\(output): the encoder wrote \(written) of the \(decoded) frames sent to it; the output would be short, so it was not written"
        case let .timingMismatch(output, expectedStart, expectedEnd, start, end):
            return "\(output): a player would show \(seconds(start))-\(seconds(end)) s where the content spans "
                + "\(seconds(expectedStart))-\(seconds(expectedEnd)) s, so it was not written"
        case let .audioStream(input, stream, reason): return "\(input): \(stream): \(reason)"
        case let .limitExceeded(input, limit, value, maximum):
            return "\(input): \(value) is over the limit of \(maximum) (\(limit))"
        case .cancelled: return "cancelled"
        case .invalidURL(let url): return "invalid input URL: \(url)"
        case let .noFramesFromSteps(input, steps): return "\(input): no frame is left after the steps '\(steps)'"
        }
    }
}

private func seconds(_ s: Double) -> String {
    let r = (s * 1000).rounded() / 1000
    return "\(r)"
}
