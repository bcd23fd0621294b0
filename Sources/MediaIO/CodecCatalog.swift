import CFFmpeg
import Recipe

/// What opens on this machine of the encoders the output catalogue offers (the catalogue itself is
/// Recipe's ``OutputCatalogue``: data, without FFmpeg).
public enum CodecCatalog {
    /// Whether FFmpeg's library here has an encoder by this name (it may still fail to open).
    public static func isBuiltIn(_ name: String) -> Bool { avcodec_find_encoder_by_name(name) != nil }

    /// What happened when an encoder was tried on this machine.
    public struct Availability: Sendable, Codable, Equatable {
        public let name: String
        public let format: String
        public let hardware: Bool
        public let opens: Bool
        public let reason: String?
    }

    /// Tries to open every listed encoder on a small frame size.
    public static func probe() -> [Availability] { OutputCatalogue.encoders.map { availability(of: $0) } }

    /// Tries to open one encoder on a small frame size.
    public static func availability(of entry: OutputEncoder) -> Availability {
        FFmpegLog.ensureDefault()
        do {
            _ = try Encoder.openVideo(name: entry.name, config: .probe)
            return Availability(name: entry.name, format: entry.format, hardware: entry.isHardware, opens: true, reason: nil)
        } catch let MediaError.encoderUnavailable(_, reason) {
            return Availability(name: entry.name, format: entry.format, hardware: entry.isHardware, opens: false, reason: reason)
        } catch {
            return Availability(name: entry.name, format: entry.format, hardware: entry.isHardware, opens: false, reason: "\(error)")
        }
    }
}

/// Colour description carried from input to output.
public struct ColorProperties: Sendable, Equatable {
    package var primaries: AVColorPrimaries = AVCOL_PRI_UNSPECIFIED
    package var transfer: AVColorTransferCharacteristic = AVCOL_TRC_UNSPECIFIED
    package var matrix: AVColorSpace = AVCOL_SPC_UNSPECIFIED
    package var range: AVColorRange = AVCOL_RANGE_UNSPECIFIED
    public init() {}

    /// The same colour with full-range (JPEG) levels, as pictures for people use.
    public var fullRange: ColorProperties { var c = self; c.range = AVCOL_RANGE_JPEG; return c }
}

/// Everything needed to open a video encoder.
public struct VideoEncoderConfig: Sendable {
    public var width: Int
    public var height: Int
    public var pixelFormat: PixelFormat
    public var timeBase: Rational
    public var frameRate: Rational
    public var sampleAspectRatio: Rational
    public var color: ColorProperties
    public var quality: Int
    public var preset: String?
    public var globalHeader: Bool
    public var threads: Int
    /// HDR10 metadata to write into the bitstream where the encoder takes it (x265).
    public var hdr: HDRMetadata?
    /// The source's field order; interlaced video is encoded as interlaced where the encoder can
    /// (x264) and tagged with its field order everywhere.
    public var fieldOrder: FieldOrder = .unknown

    public init(width: Int, height: Int, pixelFormat: PixelFormat, timeBase: Rational, frameRate: Rational,
                sampleAspectRatio: Rational = Rational(0, 1), color: ColorProperties = ColorProperties(),
                quality: Int = OutputCatalogue.defaultQuality, preset: String? = nil, globalHeader: Bool = false, threads: Int = 0) {
        self.width = width; self.height = height; self.pixelFormat = pixelFormat
        self.timeBase = timeBase; self.frameRate = frameRate; self.sampleAspectRatio = sampleAspectRatio
        self.color = color; self.quality = quality; self.preset = preset
        self.globalHeader = globalHeader; self.threads = threads
    }

    static let probe = VideoEncoderConfig(width: 256, height: 144, pixelFormat: .yuv420p, timeBase: Rational(1, 25), frameRate: Rational(25, 1))
}

extension Encoder {
    /// Opens encoder `name` for `config`, mapping quality and preset onto its own options.
    public static func openVideo(name: String, config: VideoEncoderConfig, path: String? = nil) throws -> Encoder {
        // The catalogue entry says which options carry quality and preset, and what else is always set.
        let entry = OutputCatalogue.encoder(named: name)
        guard let codec = avcodec_find_encoder_by_name(name) else {
            if entry != nil {
                throw MediaError.encoderUnavailable(name: name, reason: "not in this FFmpeg build")
            }
            throw OutputError.unknownCodec(name)
        }
        let supported = PixelFormat.supported(byEncoder: name)
        if !supported.isEmpty, !supported.contains(config.pixelFormat) {
            throw MediaError.unsupportedPixelFormat(config.pixelFormat.name, encoder: name, supported: supported.map(\.name))
        }
        let cc = try CodecContext(codec: codec, path: path)
        let ctx = cc.pointer
        ctx.pointee.width = Int32(config.width)
        ctx.pointee.height = Int32(config.height)
        ctx.pointee.pix_fmt = config.pixelFormat.av
        ctx.pointee.time_base = config.timeBase.av
        ctx.pointee.framerate = config.frameRate.av
        ctx.pointee.sample_aspect_ratio = config.sampleAspectRatio.av
        ctx.pointee.color_primaries = config.color.primaries
        ctx.pointee.color_trc = config.color.transfer
        ctx.pointee.colorspace = config.color.matrix
        ctx.pointee.color_range = config.color.range
        ctx.pointee.thread_count = Int32(config.threads)
        if config.globalHeader { ctx.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
        ctx.pointee.field_order = config.fieldOrder.av
        if entry?.encodesInterlaced == true, config.fieldOrder.isInterlaced {
            ctx.pointee.flags |= AV_CODEC_FLAG_INTERLACED_DCT | AV_CODEC_FLAG_INTERLACED_ME
        }
        func set(_ key: String, _ value: String) throws {
            guard vfx_has_priv_opt(ctx, key) != 0 else { return }
            try check(vfx_set_priv_opt(ctx, key, value), "setting \(name) option \(key)=\(value)", path: path)
        }
        if let entry {
            if entry.quality.zeroBitrate { ctx.pointee.bit_rate = 0 }
            if let option = entry.quality.option { try set(option, String(config.quality)) }
            if let preset = config.preset ?? entry.defaultPreset { try set(entry.presetOption, preset) }
            for o in entry.privateOptions { try set(o.key, o.value) }
            for o in entry.codecOptions {
                try check(vfx_set_codec_opt(ctx, o.key, o.value), "setting \(name) option \(o.key)=\(o.value)", path: path)
            }
            if entry.writesHDRMetadata, let hdr = config.hdr {
                // x265 takes HDR10 metadata through its parameter string (the one encoder here that writes it).
                try set("x265-params", (["log-level=error", "hdr10=1"] + hdr.x265Parameters).joined(separator: ":"))
            }
        } else {
            try set("crf", String(config.quality))
            if let preset = config.preset { try set("preset", preset) }
        }
        let (code, said) = FFmpegLog.capturing { avcodec_open2(ctx, codec, nil) }
        if code < 0 {
            let hint = entry?.device == .nvidia ? " (\(NVENCRefusal(said).reason))" : ""
            throw MediaError.encoderUnavailable(name: name, reason: ffmpegMessage(code) + hint)
        }
        return Encoder(context: cc)
    }

    /// The layout an audio encoder gets for `layout`: an unspecified or custom order becomes the
    /// default layout of its channel count, then it must be one the encoder lists (the same
    /// channels, else as many, else the widest with fewer, else its first).
    static func encoderLayout(for layout: AVChannelLayout, codec: UnsafePointer<AVCodec>) -> AVChannelLayout {
        var wanted = AVChannelLayout()
        let count = max(1, layout.nb_channels)
        if layout.order == AV_CHANNEL_ORDER_NATIVE {
            var l = layout
            _ = av_channel_layout_copy(&wanted, &l)
        } else {
            av_channel_layout_default(&wanted, count)
        }
        guard var p = codec.pointee.ch_layouts else { return wanted }
        var listed: [AVChannelLayout] = []
        while p.pointee.nb_channels != 0 { listed.append(p.pointee); p += 1 }
        if listed.isEmpty { return wanted }
        if listed.contains(where: { var a = $0; return av_channel_layout_compare(&a, &wanted) == 0 }) { return wanted }
        if let same = listed.first(where: { $0.nb_channels == count }) { return same }
        if let fewer = listed.filter({ $0.nb_channels < count }).max(by: { $0.nb_channels < $1.nb_channels }) { return fewer }
        return listed[0]
    }

    /// Opens an audio encoder by name for the given sample rate and channel layout.
    /// Opens audio encoder `name` for what `decoder` gives (its rate and channels, or the nearest the encoder takes).
    public static func openAudio(name: String, for decoder: Decoder, globalHeader: Bool, path: String?) throws -> Encoder {
        let d = decoder.pointer.pointee
        return try openAudio(name: name, sampleRate: d.sample_rate, layout: d.ch_layout, globalHeader: globalHeader, path: path)
    }

    package static func openAudio(name: String, sampleRate: Int32, layout: AVChannelLayout,
                          globalHeader: Bool, path: String?) throws -> Encoder {
        guard let codec = avcodec_find_encoder_by_name(name) else {
            throw MediaError.encoderUnavailable(name: name, reason: "not in this FFmpeg build")
        }
        let cc = try CodecContext(codec: codec, path: path)
        let ctx = cc.pointer
        var rate = sampleRate
        if let rates = codec.pointee.supported_samplerates {
            var best: Int32 = 0, p = rates
            while p.pointee != 0 { if p.pointee == sampleRate { best = sampleRate; break }; best = max(best, p.pointee); p += 1 }
            rate = best
        }
        ctx.pointee.sample_rate = rate
        ctx.pointee.sample_fmt = codec.pointee.sample_fmts?.pointee ?? AV_SAMPLE_FMT_FLTP
        var l = encoderLayout(for: layout, codec: codec)
        if l.nb_channels > 2 && name == "libopus" { av_channel_layout_default(&l, 2) }
        try check(av_channel_layout_copy(&ctx.pointee.ch_layout, &l), "av_channel_layout_copy", path: path)
        ctx.pointee.time_base = AVRational(num: 1, den: rate)
        ctx.pointee.bit_rate = 64_000 * Int64(min(l.nb_channels, 6))
        if globalHeader { ctx.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
        try check(avcodec_open2(ctx, codec, nil), "avcodec_open2(\(name))", path: path)
        return Encoder(context: cc)
    }
}

/// Why NVENC would not open, from what FFmpeg's nvenc and the driver said: no session free (consumer
/// GPUs allow a few at once), a GPU without an encoder (data-centre GPUs such as H100 and H200 decode but
/// do not encode), or no NVIDIA GPU and driver at all.
struct NVENCRefusal: Equatable {
    enum Kind: Equatable { case noSessionFree, noEncoderOnGPU, noGPU, other(String) }
    let kind: Kind

    init(_ said: [String]) {
        let text = said.joined(separator: " ").lowercased()
        let has = { (needles: [String]) in needles.contains { text.contains($0) } }
        if has(["out of memory (10)", "incompatible client key", "too many concurrent sessions", "no free session"]) {
            kind = .noSessionFree
        } else if has(["no capable devices found", "no nvenc capable devices", "unsupported device (2)", "device type unsupported",
                       "does not support nvenc", "encoder not found"]) {
            kind = .noEncoderOnGPU
        } else if has(["cannot load libcuda", "could not dynamically load cuda", "cuda_error_no_device", "cannot load libnvidia-encode",
                       "no cuda-capable device"]) || text.isEmpty {
            kind = .noGPU
        } else {
            kind = .other(said.last ?? "")
        }
    }

    var reason: String {
        switch kind {
        case .noSessionFree: return "no NVENC session free on this GPU: it runs as many encodes as it allows"
        case .noEncoderOnGPU: return "this GPU has no NVENC encoder (data-centre GPUs such as H100 and H200 decode but do not encode)"
        case .noGPU: return "no usable NVIDIA GPU and driver"
        case .other(let line): return "NVENC said: \(line)"
        }
    }
}
