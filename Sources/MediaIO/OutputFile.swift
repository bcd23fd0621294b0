import CFFmpeg

/// An output container being written (muxer plus its file).
public final class OutputFile {
    package let context: UnsafeMutablePointer<AVFormatContext>
    /// Where bytes go now (a temporary name until the caller renames it).
    public let path: String
    /// What messages call the file: the user's path, never the temporary name.
    public let name: String
    private var ioOpen = false
    private var headerWritten = false
    public private(set) var trailerWritten = false

    /// Creates a muxer of format `formatName` writing to `path`; messages call it `name` (default: `path`).
    public init(path: String, name: String? = nil, formatName: String) throws {
        let name = name ?? path
        var ctx: UnsafeMutablePointer<AVFormatContext>? = nil
        try check(avformat_alloc_output_context2(&ctx, nil, formatName, path), "avformat_alloc_output_context2(\(formatName))", path: name)
        guard let ctx else { throw FFmpegError(call: "avformat_alloc_output_context2", path: name, code: vfx_averror_enomem()) }
        context = ctx
        self.path = path
        self.name = name
    }

    deinit {
        if ioOpen { avio_closep(&context.pointee.pb) }
        avformat_free_context(context)
    }

    /// Whether codecs for this container want their headers out of band.
    public var needsGlobalHeader: Bool { context.pointee.oformat.pointee.flags & AVFMT_GLOBALHEADER != 0 }

    /// Whether this container can hold a codec (FFmpeg's own table; unknown counts as no).
    package func accepts(_ codec: AVCodecID) -> Bool {
        avformat_query_codec(context.pointee.oformat, codec, FF_COMPLIANCE_NORMAL) == 1
    }

    /// Whether the muxer will take a packet-for-packet copy of `input`'s stream `index`, asked the way
    /// writing the header asks: the muxer initialises a scratch file holding that stream alone. So a
    /// codec this container takes only as experimental (FLAC in MP4 on FFmpeg 5.1), or not in this
    /// flavour of it (Opus in MOV), counts as no.
    public func acceptsCopy(of input: InputFile, stream index: Int) -> Bool {
        let src = input.stream(index)
        guard accepts(src.parameters.pointee.codec_id) else { return false }
        var scratch: UnsafeMutablePointer<AVFormatContext>? = nil
        guard avformat_alloc_output_context2(&scratch, context.pointee.oformat, nil, nil) >= 0, let scratch else { return false }
        var pb: UnsafeMutablePointer<AVIOContext>? = nil
        defer {
            avformat_free_context(scratch)
            if pb != nil {
                var buffer: UnsafeMutablePointer<UInt8>? = nil
                _ = avio_close_dyn_buf(pb, &buffer)
                av_free(buffer)
            }
        }
        guard let st = avformat_new_stream(scratch, nil), avcodec_parameters_copy(st.parameters, src.parameters) >= 0,
              avio_open_dyn_buf(&pb) >= 0 else { return false }
        st.parameters.pointee.codec_tag = 0
        st.pointee.time_base = src.pointee.time_base
        scratch.pointee.pb = pb
        return avformat_init_output(scratch, nil) >= 0
    }

    /// Bytes written to the file so far.
    public var bytesWritten: Int64 {
        guard ioOpen, let pb = context.pointee.pb else { return 0 }
        return avio_tell(pb)
    }

    /// Sets a metadata tag on an output stream (`timecode`, for one).
    public func setTag(_ key: String, _ value: String, stream index: Int) {
        av_dict_set(&stream(index).pointee.metadata, key, value, 0)
    }

    /// Adds a stream fed by `encoder`; returns its index.
    public func addStream(encoder: Encoder) throws -> Int {
        let index = try reserveStream()
        try attach(encoder, toStream: index)
        return index
    }

    /// Adds a stream whose encoder opens later (see ``attach(_:toStream:)``), so it keeps its place in the order.
    public func reserveStream() throws -> Int {
        guard let st = avformat_new_stream(context, nil) else {
            throw FFmpegError(call: "avformat_new_stream", path: name, code: vfx_averror_enomem())
        }
        return Int(st.pointee.index)
    }

    /// Describes a reserved stream by the encoder that feeds it.
    public func attach(_ encoder: Encoder, toStream index: Int) throws {
        let st = stream(index)
        try check(avcodec_parameters_from_context(st.parameters, encoder.pointer), "avcodec_parameters_from_context", path: name)
        st.pointee.time_base = encoder.timeBase.av
        st.pointee.avg_frame_rate = encoder.pointer.pointee.framerate
        st.pointee.sample_aspect_ratio = encoder.pointer.pointee.sample_aspect_ratio
    }

    /// Adds a stream that copies `input`'s stream `index` packet for packet; returns its index. Its
    /// time base is the input stream's unless `timeBase` is given.
    public func addCopiedStream(from input: InputFile, stream index: Int, timeBase: Rational? = nil) throws -> Int {
        let src = input.stream(index)
        guard let st = avformat_new_stream(context, nil) else {
            throw FFmpegError(call: "avformat_new_stream", path: name, code: vfx_averror_enomem())
        }
        try check(avcodec_parameters_copy(st.parameters, src.parameters), "avcodec_parameters_copy", path: name)
        st.parameters.pointee.codec_tag = 0
        st.pointee.time_base = timeBase?.av ?? src.pointee.time_base
        // Matroska writes a video track's default frame duration from it (an encoder's stream has it too).
        st.pointee.avg_frame_rate = src.pointee.avg_frame_rate
        st.pointee.disposition = src.pointee.disposition
        copyLanguage(from: src, to: st)
        return Int(st.pointee.index)
    }

    /// Gives output stream `index` the language of `input`'s stream `source`.
    public func copyLanguage(from input: InputFile, stream source: Int, to index: Int) {
        copyLanguage(from: input.stream(source), to: stream(index))
    }

    /// Gives output stream `index` the rotation (display matrix) of `input`'s stream `source`.
    public func copyDisplayMatrix(from input: InputFile, stream source: Int, to index: Int) throws {
        try check(vfx_copy_display_matrix(input.stream(source), stream(index)), "copying the display matrix", path: name)
    }

    /// Writes HDR10 metadata into output stream `index`'s container-level side data.
    public func attach(_ metadata: HDRMetadata, toStream index: Int) throws { try metadata.attach(to: stream(index), path: name) }

    package func copyLanguage(from src: UnsafeMutablePointer<AVStream>, to dst: UnsafeMutablePointer<AVStream>) {
        if let lang = av_dict_get(src.pointee.metadata, "language", nil, 0) {
            av_dict_set(&dst.pointee.metadata, "language", lang.pointee.value, 0)
        }
    }

    package func stream(_ index: Int) -> UnsafeMutablePointer<AVStream> { context.pointee.streams[index]! }

    /// The time base the muxer settled on for a stream (valid after the header).
    package func timeBase(ofStream index: Int) -> AVRational { stream(index).pointee.time_base }

    /// Opens the file and writes the container header; `fastStart` moves MP4/MOV indexes to the front.
    /// Without `editList`, MP4/MOV write none: the timestamps read back start at zero, and every
    /// sample's duration reads back (a reader drops them when an edit list shifts the track).
    public func writeHeader(fastStart: Bool, editList: Bool = true) throws {
        if context.pointee.oformat.pointee.flags & AVFMT_NOFILE == 0 {
            try check(avio_open(&context.pointee.pb, path, AVIO_FLAG_WRITE), "avio_open", path: name)
            ioOpen = true
        }
        var dict: OpaquePointer? = nil
        defer { av_dict_free(&dict) }
        if fastStart { av_dict_set(&dict, "movflags", "+faststart", 0) }
        if !editList { av_dict_set(&dict, "use_editlist", "0", 0) }
        try check(avformat_write_header(context, &dict), "avformat_write_header", path: name)
        headerWritten = true
        let queued = waiting
        waiting = []
        waitingBytes = 0
        for (packet, timeBase) in queued { try write(packet, timeBase: timeBase) }
    }

    /// Most bytes of packets held while the header waits for a stream's encoder (fftools' muxing queue).
    package static let maxWaitingBytes = 256 << 20
    private var waiting: [(Packet, AVRational)] = []
    private var waitingBytes = 0

    /// Writes one packet whose timestamps are in `timeBase`, interleaving by time. Before the header is
    /// written (an encoder that opens on its first frame), the packet waits in a bounded queue.
    public func write(_ packet: Packet, timeBase: Rational) throws { try write(packet, timeBase: timeBase.av) }

    package func write(_ packet: Packet, timeBase: AVRational) throws {
        guard headerWritten else {
            let held = try Packet()
            try check(av_packet_ref(held.pointer, packet.pointer), "av_packet_ref", path: name)
            waitingBytes += Int(packet.pointer.pointee.size)
            guard waitingBytes <= Self.maxWaitingBytes else {
                throw FFmpegError(call: "av_interleaved_write_frame: over \(Self.maxWaitingBytes >> 20) MiB of packets wait for the video's first frame",
                                  path: name, code: vfx_averror_enomem())
            }
            waiting.append((held, timeBase))
            return
        }
        packet.rescale(from: timeBase, to: self.timeBase(ofStream: packet.streamIndex))
        try check(av_interleaved_write_frame(context, packet.pointer), "av_interleaved_write_frame", path: name)
    }

    /// Flushes interleaving queues and writes the trailer; once.
    public func finish() throws {
        guard headerWritten, !trailerWritten else { return }
        try check(av_write_trailer(context), "av_write_trailer", path: name)
        trailerWritten = true
        if ioOpen {
            try check(avio_closep(&context.pointee.pb), "avio_closep", path: name)
            ioOpen = false
        }
    }
}
