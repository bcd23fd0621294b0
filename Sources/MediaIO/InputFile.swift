import CFFmpeg
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// How an input may be opened.
public struct InputOptions: Sendable {
    /// Comma-separated protocols FFmpeg may use (nil: FFmpeg's default set).
    public var protocolWhitelist: String?
    /// Comma-separated demuxers FFmpeg may use (nil: any).
    public var formatWhitelist: String?
    /// Seconds a network read may stall before the input fails.
    public var networkTimeout: Double = 30

    public init(protocolWhitelist: String? = nil, formatWhitelist: String? = nil, networkTimeout: Double = 30) {
        self.protocolWhitelist = protocolWhitelist
        self.formatWhitelist = formatWhitelist
        self.networkTimeout = networkTimeout
    }

    /// Local files only: for untrusted media, so nothing inside it can make FFmpeg open another
    /// address or file (playlists, concat lists, references).
    public static let untrustedLocalFile = InputOptions(protocolWhitelist: "file", formatWhitelist: mediaDemuxers)

    /// Demuxers of self-contained media files. Playlist and list formats (hls, dash, concat, image
    /// sequences, tee) are left out: they name further files or addresses to open.
    public static let mediaDemuxers = [
        "mov", "mp4", "matroska", "webm", "avi", "flv", "live_flv", "asf", "mpegts", "mpeg", "mpegvideo", "gif",
        "h264", "hevc", "m4v", "ivf", "obu", "ogg", "yuv4mpegpipe", "mxf", "nut", "dv", "rm", "h263", "vc1",
        "wav", "mp3", "aac", "apng", "webp_pipe", "png_pipe", "jpeg_pipe", "amv", "smjpeg", "flic", "bink",
    ].joined(separator: ",")
}

// Called by FFmpeg during blocking I/O; non-zero aborts the operation.
private let interruptCallback: @convention(c) (UnsafeMutableRawPointer?) -> Int32 = { opaque in
    guard let opaque else { return 0 }
    return Unmanaged<CancellationFlag>.fromOpaque(opaque).takeUnretainedValue().isCancelled ? 1 : 0
}

/// An opened, probed input (demuxer).
public final class InputFile {
    package let context: UnsafeMutablePointer<AVFormatContext>
    /// The path or URL opened.
    public let url: String
    /// What error messages call this input: the user's own name for it (their path or URL, or a
    /// field name), never a temporary copy.
    public let name: String
    private let cancellation: CancellationFlag

    /// Opens and probes `url` (a path, or any URL FFmpeg's allowed protocols take); `name` is what
    /// messages call it (default: `url`).
    public init(url: String, name: String? = nil, options: InputOptions = InputOptions(),
                cancellation: CancellationFlag = CancellationFlag()) throws {
        FFmpegLog.ensureDefault()
        self.url = url
        self.name = name ?? url
        self.cancellation = cancellation
        guard var ctx = avformat_alloc_context() else {
            throw FFmpegError(call: "avformat_alloc_context", path: self.name, code: vfx_averror_enomem())
        }
        ctx.pointee.interrupt_callback.callback = interruptCallback
        ctx.pointee.interrupt_callback.opaque = Unmanaged.passUnretained(cancellation).toOpaque()
        var dict: OpaquePointer? = nil
        defer { av_dict_free(&dict) }
        if let p = options.protocolWhitelist { av_dict_set(&dict, "protocol_whitelist", p, 0) }
        if let f = options.formatWhitelist { av_dict_set(&dict, "format_whitelist", f, 0) }
        av_dict_set(&dict, "rw_timeout", String(Int64(options.networkTimeout * 1_000_000)), 0)
        var maybe: UnsafeMutablePointer<AVFormatContext>? = ctx
        // On failure avformat_open_input frees the context itself.
        let opened = avformat_open_input(&maybe, url, nil, &dict)
        if opened < 0 {
            if cancellation.isCancelled { throw MediaError.cancelled }
            throw FFmpegError(call: "avformat_open_input", path: self.name, code: opened)
        }
        guard let opened = maybe else { throw FFmpegError(call: "avformat_open_input", path: self.name, code: vfx_averror_enomem()) }
        ctx = opened
        // `context` is assigned only once probing succeeded: a throw after every stored property is set
        // runs `deinit`, which would close the context a second time.
        let found = avformat_find_stream_info(ctx, nil)
        if found < 0 {
            var p: UnsafeMutablePointer<AVFormatContext>? = ctx
            avformat_close_input(&p)
            if cancellation.isCancelled { throw MediaError.cancelled }
            throw FFmpegError(call: "avformat_find_stream_info", path: self.name, code: found)
        }
        context = ctx
    }

    deinit {
        var p: UnsafeMutablePointer<AVFormatContext>? = context
        avformat_close_input(&p)
    }

    public var streamCount: Int { Int(context.pointee.nb_streams) }

    package func stream(_ index: Int) -> UnsafeMutablePointer<AVStream> {
        precondition(index >= 0 && index < streamCount)
        return context.pointee.streams[index]!
    }

    /// The demuxer's name (e.g. "mov,mp4,m4a,3gp,3g2,mj2").
    public var formatName: String { String(cString: context.pointee.iformat.pointee.name) }

    /// Container duration in seconds, when known.
    public var duration: Double? {
        let d = context.pointee.duration
        return d > 0 && d != vfx_nopts() ? Double(d) / Double(AV_TIME_BASE) : nil
    }

    /// The stream FFmpeg judges the main video (never cover art).
    public func bestVideoStream() throws -> Int {
        let index = av_find_best_stream(context, AVMEDIA_TYPE_VIDEO, -1, -1, nil, 0)
        guard index >= 0, stream(Int(index)).pointee.disposition & AV_DISPOSITION_ATTACHED_PIC == 0 else {
            throw MediaError.noVideoStream(name)
        }
        return Int(index)
    }

    /// The earliest start time among `streams`, in AV_TIME_BASE units (0 when none says).
    public func startTime(of streams: [Int]) -> Int64 {
        let base = AVRational(num: 1, den: Int32(AV_TIME_BASE))
        let starts = streams.compactMap { index -> Int64? in
            let st = stream(index).pointee
            guard st.start_time != vfx_nopts() else { return nil }
            return av_rescale_q(st.start_time, st.time_base, base)
        }
        if let first = starts.min() { return first }
        let s = context.pointee.start_time
        return s == vfx_nopts() ? 0 : s
    }

    /// The first value of the metadata tag `key` on the container, then on any stream
    /// (timecode tracks carry their timecode this way).
    public func tag(_ key: String) -> String? {
        if let e = av_dict_get(context.pointee.metadata, key, nil, 0) { return String(cString: e.pointee.value) }
        for i in 0..<streamCount {
            if let e = av_dict_get(stream(i).pointee.metadata, key, nil, 0) { return String(cString: e.pointee.value) }
        }
        return nil
    }

    /// Whether packets carry timestamps a seek can land by (raw elementary streams have none).
    public var hasTimestamps: Bool { context.pointee.iformat.pointee.flags & AVFMT_NOTIMESTAMPS == 0 }

    /// Moves to the last keyframe at or before `seconds` after the start (decoders must start afresh).
    public func seek(to seconds: Double) throws {
        let start = context.pointee.start_time == vfx_nopts() ? 0 : context.pointee.start_time
        try check(av_seek_frame(context, -1, start + Int64(seconds * Double(AV_TIME_BASE)), AVSEEK_FLAG_BACKWARD),
                  "av_seek_frame", path: name)
    }

    /// One video packet as an index scan sees it: its presentation time (nil when unknown) and whether
    /// decoding can start there.
    public struct PacketTime: Sendable, Equatable {
        public var pts: Int64?
        public var isKeyframe: Bool
    }

    /// Reads every packet of stream `index` from the current position to the end (demuxing only, no
    /// decoding), skipping those the demuxer marks as not shown; the reader is left at the end.
    public func packetTimes(stream index: Int) throws -> [PacketTime] {
        let packet = try Packet()
        var times: [PacketTime] = []
        reading: while true {
            switch try read(into: packet) {
            case .endOfFile, .corrupt: break reading
            case .packet: break
            }
            defer { packet.unref() }
            if cancellation.isCancelled { throw MediaError.cancelled }
            guard packet.streamIndex == index, !packet.isDiscarded else { continue }
            times.append(PacketTime(pts: packet.pts, isKeyframe: packet.isKeyframe))
        }
        return times
    }

    /// Indices of the audio streams.
    public var audioStreams: [Int] {
        (0..<streamCount).filter { stream($0).parameters.pointee.codec_type == AVMEDIA_TYPE_AUDIO }
    }

    /// What reading the next packet gave.
    public enum ReadResult { case packet, endOfFile, corrupt(String) }

    /// Reads the next packet into `packet`.
    public func read(into packet: Packet) throws -> ReadResult {
        let code = av_read_frame(context, packet.pointer)
        if code >= 0 { return .packet }
        if code == AVResult.endOfFile { return .endOfFile }
        if cancellation.isCancelled { throw MediaError.cancelled }
        if code == AVResult.invalidData { return .corrupt(ffmpegMessage(code)) }
        throw FFmpegError(call: "av_read_frame", path: name, code: code)
    }
}

extension UnsafeMutablePointer where Pointee == AVStream {
    /// The stream's codec parameters; FFmpeg allocates them with every stream.
    package var parameters: UnsafeMutablePointer<AVCodecParameters> {
        guard let p = pointee.codecpar else { preconditionFailure("FFmpeg stream without codec parameters") }
        return p
    }
}
