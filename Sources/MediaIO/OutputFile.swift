import CFFmpeg

/// An output container being written (muxer plus its file).
public final class OutputFile {
    package let context: UnsafeMutablePointer<AVFormatContext>
    /// Where bytes go now (a temporary name until the caller renames it).
    public let path: String
    private var ioOpen = false
    private var headerWritten = false
    public private(set) var trailerWritten = false

    /// Creates a muxer of format `formatName` writing to `path`.
    public init(path: String, formatName: String) throws {
        var ctx: UnsafeMutablePointer<AVFormatContext>? = nil
        try check(avformat_alloc_output_context2(&ctx, nil, formatName, path), "avformat_alloc_output_context2(\(formatName))", path: path)
        guard let ctx else { throw FFmpegError(call: "avformat_alloc_output_context2", path: path, code: vfx_averror_enomem()) }
        context = ctx
        self.path = path
    }

    deinit {
        if ioOpen { avio_closep(&context.pointee.pb) }
        avformat_free_context(context)
    }

    /// Whether codecs for this container want their headers out of band.
    public var needsGlobalHeader: Bool { context.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 }

    /// Whether this container can hold a codec (FFmpeg's own table; unknown counts as no).
    public func accepts(_ codec: AVCodecID) -> Bool {
        avformat_query_codec(context.pointee.oformat, codec, FF_COMPLIANCE_NORMAL) == 1
    }

    /// Adds a stream fed by `encoder`; returns its index.
    package func addStream(encoder: Encoder) throws -> Int {
        guard let st = avformat_new_stream(context, nil) else {
            throw FFmpegError(call: "avformat_new_stream", path: path, code: vfx_averror_enomem())
        }
        try check(avcodec_parameters_from_context(st.parameters, encoder.pointer), "avcodec_parameters_from_context", path: path)
        st.pointee.time_base = encoder.timeBase
        st.pointee.avg_frame_rate = encoder.pointer.pointee.framerate
        st.pointee.sample_aspect_ratio = encoder.pointer.pointee.sample_aspect_ratio
        return Int(st.pointee.index)
    }

    /// Adds a stream that copies `input`'s stream `index` packet for packet; returns its index.
    package func addCopiedStream(from input: InputFile, stream index: Int) throws -> Int {
        let src = input.stream(index)
        guard let st = avformat_new_stream(context, nil) else {
            throw FFmpegError(call: "avformat_new_stream", path: path, code: vfx_averror_enomem())
        }
        try check(avcodec_parameters_copy(st.parameters, src.parameters), "avcodec_parameters_copy", path: path)
        st.parameters.pointee.codec_tag = 0
        st.pointee.time_base = src.pointee.time_base
        st.pointee.disposition = src.pointee.disposition
        copyLanguage(from: src, to: st)
        return Int(st.pointee.index)
    }

    package func copyLanguage(from src: UnsafeMutablePointer<AVStream>, to dst: UnsafeMutablePointer<AVStream>) {
        if let lang = av_dict_get(src.pointee.metadata, "language", nil, 0) {
            av_dict_set(&dst.pointee.metadata, "language", lang.pointee.value, 0)
        }
    }

    package func stream(_ index: Int) -> UnsafeMutablePointer<AVStream> { context.pointee.streams[index]! }

    /// The time base the muxer settled on for a stream (valid after the header).
    package func timeBase(ofStream index: Int) -> AVRational { stream(index).pointee.time_base }

    /// Opens the file and writes the container header; `fastStart` moves MP4/MOV indexes to the front.
    package func writeHeader(fastStart: Bool) throws {
        if context.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 {
            try check(avio_open(&context.pointee.pb, path, AVIO_FLAG_WRITE), "avio_open", path: path)
            ioOpen = true
        }
        var dict: OpaquePointer? = nil
        defer { av_dict_free(&dict) }
        if fastStart { av_dict_set(&dict, "movflags", "+faststart", 0) }
        try check(avformat_write_header(context, &dict), "avformat_write_header", path: path)
        headerWritten = true
    }

    /// Writes one packet (already in the stream's time base), interleaving by time.
    package func write(_ packet: Packet) throws {
        try check(av_interleaved_write_frame(context, packet.pointer), "av_interleaved_write_frame", path: path)
    }

    /// Flushes interleaving queues and writes the trailer; once.
    package func finish() throws {
        guard headerWritten, !trailerWritten else { return }
        try check(av_write_trailer(context), "av_write_trailer", path: path)
        trailerWritten = true
        if ioOpen {
            try check(avio_closep(&context.pointee.pb), "avio_closep", path: path)
            ioOpen = false
        }
    }
}
