import CFFmpeg

/// An owned `AVCodecContext`, the part decoders and encoders share.
package final class CodecContext {
    package let pointer: UnsafeMutablePointer<AVCodecContext>
    let codec: UnsafePointer<AVCodec>
    /// The file this codec works for, for error messages.
    let path: String?

    package init(codec: UnsafePointer<AVCodec>, path: String?) throws {
        guard let p = avcodec_alloc_context3(codec) else {
            throw FFmpegError(call: "avcodec_alloc_context3", path: path, code: vfx_averror_enomem())
        }
        pointer = p
        self.codec = codec
        self.path = path
    }

    deinit {
        var p: UnsafeMutablePointer<AVCodecContext>? = pointer
        avcodec_free_context(&p)
    }

    var name: String { String(cString: codec.pointee.name) }
}

/// Decodes the packets of one stream into frames.
public final class Decoder {
    package let context: CodecContext
    /// The stream's time base: packets arrive in it and frames leave in it.
    public let timeBase: Rational

    /// The device attached (nil: the CPU); frames it decodes come back to system memory.
    public let device: DecodeDevice?
    private let deviceContext: HardwareDeviceContext?
    /// Why `auto` decodes on the CPU (no device here, or none for this codec), for the job's log.
    public let placementNote: String?
    /// Frames the device decoded (a stream whose profile it cannot take is decoded by the CPU instead).
    public private(set) var framesOnDevice = 0
    private var transfer: Frame?

    /// Where the frames were decoded, as reports and metrics name it: `nvidia`, `vaapi` or `cpu`.
    public var deviceLabel: String { framesOnDevice > 0 ? device?.label ?? "cpu" : "cpu" }

    /// A device failure made to happen on purpose (tests; see ``DecoderFault``), which also makes a CPU
    /// decoder stand in for a device one.
    package var fault: DecoderFault?
    private var packetsSent = 0, framesReceived = 0
    private var faultReshaper: FrameReshaper?

    /// Opens the decoder FFmpeg names for the stream's probed codec, on the device `placement` picks.
    public init(input: InputFile, stream index: Int, threads: Int = 0, placement: DecoderPlacement = .cpu) throws {
        let st = input.stream(index)
        let par = st.parameters
        guard let codec = avcodec_find_decoder(par.pointee.codec_id) else {
            throw MediaError.noDecoder(codec: String(cString: vfx_codec_name(par.pointee.codec_id)))
        }
        context = try CodecContext(codec: codec, path: input.name)
        let ctx = context.pointer
        try check(avcodec_parameters_to_context(ctx, par), "avcodec_parameters_to_context", path: input.name)
        ctx.pointee.pkt_timebase = st.pointee.time_base
        ctx.pointee.thread_count = Int32(threads)
        ctx.pointee.framerate = av_guess_frame_rate(input.context, st, nil)
        timeBase = Rational(st.pointee.time_base)
        do {
            let attached = try Self.attachDevice(placement, codec: codec, context: ctx, name: context.name)
            deviceContext = attached?.0; device = attached?.1; placementNote = nil
        } catch let fellBack as AutoFellBack {
            deviceContext = nil; device = nil
            placementNote = "video decoded on the CPU (decoder auto: " + fellBack.reasons.joined(separator: "; ") + ")"
        }
        try check(avcodec_open2(ctx, codec, nil), "avcodec_open2(\(context.name))", path: input.name)
    }

    public var codecName: String { context.name }

    /// Brings a frame the device decoded back to system memory, in its place.
    private func download(_ frame: Frame) throws {
        let copy = try transfer ?? Frame()
        transfer = copy
        copy.unref()
        try check(av_hwframe_transfer_data(copy.pointer, frame.pointer, 0), "av_hwframe_transfer_data(\(context.name))", path: context.path)
        try check(av_frame_copy_props(copy.pointer, frame.pointer), "av_frame_copy_props", path: context.path)
        frame.take(copy)
        framesOnDevice += 1
    }
    package var pointer: UnsafeMutablePointer<AVCodecContext> { context.pointer }

    /// Whether frames no other frame refers to are skipped (not decoded at all) from the next packet on:
    /// a reader looking for one frame far past a keyframe needs only the ones the frames after refer to.
    public var skipsNonReferenceFrames: Bool {
        get { pointer.pointee.skip_frame == AVDISCARD_NONREF }
        set { pointer.pointee.skip_frame = newValue ? AVDISCARD_NONREF : AVDISCARD_DEFAULT }
    }

    /// What sending a packet did.
    public enum SendResult { case accepted, full, corrupt(String) }

    /// Sends a packet, or `nil` to begin draining.
    public func send(_ packet: Packet?) throws -> SendResult {
        if let fault, packet != nil {
            packetsSent += 1
            if case .atPacket(packetsSent) = fault { throw DecoderFault.failure(call: "avcodec_send_packet(\(context.name))", path: context.path) }
        }
        let code = avcodec_send_packet(context.pointer, packet?.pointer)
        if code >= 0 { return .accepted }
        if code == AVResult.again { return .full }
        if code == AVResult.endOfFile { return .accepted } // already draining
        if code == AVResult.invalidData { return .corrupt(ffmpegMessage(code)) }
        throw FFmpegError(call: "avcodec_send_packet(\(context.name))", path: context.path, code: code)
    }

    /// Receives the next decoded frame into `frame`.
    public func receive(into frame: Frame) throws -> Pulled<Void> {
        let code = avcodec_receive_frame(context.pointer, frame.pointer)
        if code >= 0 {
            if let device, frame.pixelFormat == device.pixelFormat { try download(frame) }
            if let fault {
                framesReceived += 1
                if case .afterFrames(framesReceived - 1) = fault {
                    frame.unref()
                    throw DecoderFault.failure(call: "avcodec_receive_frame(\(context.name))", path: context.path)
                }
                let reshaper = try faultReshaper ?? FrameReshaper()
                faultReshaper = reshaper
                try fault.deviceLayout(frame, with: reshaper)
            }
            return .value(())
        }
        if code == AVResult.again { return .needsInput }
        if code == AVResult.endOfFile { return .endOfStream }
        if code == AVResult.invalidData { return .needsInput }
        throw FFmpegError(call: "avcodec_receive_frame(\(context.name))", path: context.path, code: code)
    }
}

/// Encodes frames into packets.
public final class Encoder {
    package let context: CodecContext
    public var timeBase: Rational { Rational(context.pointer.pointee.time_base) }
    public var name: String { context.name }
    package var pointer: UnsafeMutablePointer<AVCodecContext> { context.pointer }

    package init(context: CodecContext) { self.context = context }

    /// Set once the encoder reported end of stream.
    private var drained = false
    private var framesSent = 0

    // SVT-AV1 hangs when freed with frames in flight, and on end-of-stream before any frame: give it
    // one blank frame if it had none, flush, and discard what comes out.
    deinit {
        guard !drained, let packet = av_packet_alloc() else { return }
        var p: UnsafeMutablePointer<AVPacket>? = packet
        let ctx = context.pointer.pointee
        if framesSent == 0, ctx.codec_type == AVMEDIA_TYPE_VIDEO, let blank = try? Frame() {
            if (try? blank.allocateVideo(width: Int(ctx.width), height: Int(ctx.height), format: ctx.pix_fmt)) != nil,
               vfx_frame_fill_black(blank.pointer) >= 0 {
                blank.pts = 0
                _ = avcodec_send_frame(context.pointer, blank.pointer)
            }
        }
        _ = avcodec_send_frame(context.pointer, nil)
        while avcodec_receive_packet(context.pointer, packet) >= 0 { av_packet_unref(packet) }
        av_packet_free(&p)
    }

    /// Sends a frame, or `nil` to begin draining. Returns false when the encoder is full
    /// (receive packets, then send again).
    public func send(_ frame: Frame?) throws -> Bool {
        let code = avcodec_send_frame(context.pointer, frame?.pointer)
        if code >= 0 { if frame != nil { framesSent += 1 }; return true }
        if code == AVResult.again { return false }
        if code == AVResult.endOfFile, frame == nil { return true }
        throw FFmpegError(call: "avcodec_send_frame(\(context.name))", path: context.path, code: code)
    }

    /// Receives the next packet into `packet`.
    public func receive(into packet: Packet) throws -> Pulled<Void> {
        let code = avcodec_receive_packet(context.pointer, packet.pointer)
        if code >= 0 { return .value(()) }
        if code == AVResult.again { return .needsInput }
        if code == AVResult.endOfFile { drained = true; return .endOfStream }
        throw FFmpegError(call: "avcodec_receive_packet(\(context.name))", path: context.path, code: code)
    }

    /// Audio encoders with a fixed frame size want exactly this many samples per frame (0: any).
    public var frameSize: Int { Int(context.pointer.pointee.frame_size) }
}
