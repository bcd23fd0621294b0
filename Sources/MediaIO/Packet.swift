import CFFmpeg

/// An owned `AVPacket`.
public final class Packet {
    package let pointer: UnsafeMutablePointer<AVPacket>

    public init() throws {
        guard let p = av_packet_alloc() else { throw FFmpegError(call: "av_packet_alloc", path: nil, code: vfx_averror_enomem()) }
        pointer = p
    }

    deinit {
        var p: UnsafeMutablePointer<AVPacket>? = pointer
        av_packet_free(&p)
    }

    /// Drops the payload, keeping the packet for reuse.
    public func unref() { av_packet_unref(pointer) }

    public var streamIndex: Int { Int(pointer.pointee.stream_index) }

    package func rescale(from: AVRational, to: AVRational) { av_packet_rescale_ts(pointer, from, to) }
}
