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

    /// The stream it belongs to: the input's when read, the output's once routed.
    public var streamIndex: Int {
        get { Int(pointer.pointee.stream_index) }
        set { pointer.pointee.stream_index = Int32(newValue) }
    }

    /// Readies a packet read from the input for a packet-for-packet copy into output stream `index`.
    public func route(toOutputStream index: Int) {
        streamIndex = index
        pointer.pointee.pos = -1
    }

    /// Moves the packet's timestamps `offset` earlier (in its stream's time base).
    public func shift(by offset: Int64) {
        guard offset != 0 else { return }
        if pointer.pointee.pts != vfx_nopts() { pointer.pointee.pts -= offset }
        if pointer.pointee.dts != vfx_nopts() { pointer.pointee.dts -= offset }
    }

    /// Presentation time and duration, in the stream's time base (nil when unknown).
    public var pts: Int64? { pointer.pointee.pts == vfx_nopts() ? nil : pointer.pointee.pts }
    public var duration: Int64 {
        get { pointer.pointee.duration }
        set { pointer.pointee.duration = newValue }
    }
    /// Forgets the decoding time, so the muxer derives it from the presentation times and the stream's
    /// reorder delay (as it does for any packet without one).
    public func clearDecodingTime() { pointer.pointee.dts = vfx_nopts() }
    /// Whether decoding can start here.
    public var isKeyframe: Bool { pointer.pointee.flags & AV_PKT_FLAG_KEY != 0 }

    /// Whether the demuxer marked the packet as outside what a player shows (before an edit list's
    /// start: the frames a stream-copy cut keeps for decoding, audio priming); decoders drop its output.
    public var isDiscarded: Bool { pointer.pointee.flags & AV_PKT_FLAG_DISCARD != 0 }

    package func rescale(from: AVRational, to: AVRational) { av_packet_rescale_ts(pointer, from, to) }

    package var size: Int { Int(pointer.pointee.size) }
}
