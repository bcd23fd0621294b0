import CFFmpeg

/// The output codecs VideoFX offers, what they fall back to, and what opens on this machine.
public enum CodecCatalog {
    /// One selectable output codec.
    public struct Entry: Sendable, Equatable {
        /// The FFmpeg encoder name (`--output-codec`).
        public let name: String
        /// The bitstream format: h264, hevc, av1 or vp9.
        public let format: String
        /// True for NVIDIA hardware encoders.
        public let hardware: Bool
        /// CPU encoders of the same format to try, in order, when this one cannot open.
        public let fallbacks: [String]
        /// The preset used when none is given (`nil`: the encoder's own default).
        public let defaultPreset: String?
        /// The highest constant-quality value the encoder takes.
        public let maxQuality: Int
        /// The stretch of its quality scale that spans useful encodes, from near-transparent to
        /// visibly degraded (`vfx compare`'s default ladder).
        public let ladder: ClosedRange<Int>
    }

    public static let entries: [Entry] = [
        Entry(name: "h264_nvenc", format: "h264", hardware: true, fallbacks: ["libx264"], defaultPreset: "p4", maxQuality: 51, ladder: 20...38),
        Entry(name: "av1_nvenc", format: "av1", hardware: true, fallbacks: ["libsvtav1", "libaom-av1"], defaultPreset: "p4", maxQuality: 63, ladder: 24...56),
        Entry(name: "hevc_nvenc", format: "hevc", hardware: true, fallbacks: ["libx265"], defaultPreset: "p4", maxQuality: 51, ladder: 20...38),
        Entry(name: "libx264", format: "h264", hardware: false, fallbacks: [], defaultPreset: "medium", maxQuality: 51, ladder: 18...36),
        Entry(name: "libsvtav1", format: "av1", hardware: false, fallbacks: ["libaom-av1"], defaultPreset: "8", maxQuality: 63, ladder: 24...56),
        Entry(name: "libaom-av1", format: "av1", hardware: false, fallbacks: [], defaultPreset: "6", maxQuality: 63, ladder: 24...56),
        Entry(name: "libx265", format: "hevc", hardware: false, fallbacks: [], defaultPreset: "medium", maxQuality: 51, ladder: 20...38),
        Entry(name: "libvpx-vp9", format: "vp9", hardware: false, fallbacks: [], defaultPreset: "4", maxQuality: 63, ladder: 24...56),
    ]

    /// The default output codec, as in the original predictor.
    public static let defaultCodec = "h264_nvenc"

    /// The lossless encoder of intermediate files (`vfx compare`'s reference): not offered as an output
    /// codec, but `entry(named:)` knows it.
    public static let lossless = Entry(name: "ffv1", format: "ffv1", hardware: false, fallbacks: [], defaultPreset: nil,
                                       maxQuality: 0, ladder: 0...0)

    public static func entry(named name: String) -> Entry? { (entries + [lossless]).first { $0.name == name } }

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
    public static func probe() -> [Availability] { entries.map { availability(of: $0) } }

    /// Tries to open one encoder on a small frame size.
    public static func availability(of entry: Entry) -> Availability {
        FFmpegLog.ensureDefault()
        do {
            _ = try Encoder.openVideo(name: entry.name, config: .probe)
            return Availability(name: entry.name, format: entry.format, hardware: entry.hardware, opens: true, reason: nil)
        } catch let MediaError.encoderUnavailable(_, reason) {
            return Availability(name: entry.name, format: entry.format, hardware: entry.hardware, opens: false, reason: reason)
        } catch {
            return Availability(name: entry.name, format: entry.format, hardware: entry.hardware, opens: false, reason: "\(error)")
        }
    }
}

/// Colour description carried from input to output.
public struct ColorProperties: Sendable, Equatable {
    public var primaries: AVColorPrimaries = AVCOL_PRI_UNSPECIFIED
    public var transfer: AVColorTransferCharacteristic = AVCOL_TRC_UNSPECIFIED
    public var matrix: AVColorSpace = AVCOL_SPC_UNSPECIFIED
    public var range: AVColorRange = AVCOL_RANGE_UNSPECIFIED
    public init() {}
}

/// Everything needed to open a video encoder.
public struct VideoEncoderConfig: Sendable {
    public var width: Int
    public var height: Int
    public var pixelFormat: AVPixelFormat
    public var timeBase: AVRational
    public var frameRate: AVRational
    public var sampleAspectRatio: AVRational
    public var color: ColorProperties
    public var quality: Int
    public var preset: String?
    public var globalHeader: Bool
    public var threads: Int
    /// HDR10 metadata to write into the bitstream where the encoder takes it (x265).
    public var hdr: HDRMetadata?
    /// The source's field order; interlaced video is encoded as interlaced where the encoder can
    /// (x264) and tagged with its field order everywhere.
    public var fieldOrder: AVFieldOrder = AV_FIELD_UNKNOWN

    public init(width: Int, height: Int, pixelFormat: AVPixelFormat, timeBase: AVRational, frameRate: AVRational,
                sampleAspectRatio: AVRational = AVRational(num: 0, den: 1), color: ColorProperties = ColorProperties(),
                quality: Int = 19, preset: String? = nil, globalHeader: Bool = false, threads: Int = 0) {
        self.width = width; self.height = height; self.pixelFormat = pixelFormat
        self.timeBase = timeBase; self.frameRate = frameRate; self.sampleAspectRatio = sampleAspectRatio
        self.color = color; self.quality = quality; self.preset = preset
        self.globalHeader = globalHeader; self.threads = threads
    }

    static let probe = VideoEncoderConfig(width: 256, height: 144, pixelFormat: AV_PIX_FMT_YUV420P,
                                          timeBase: AVRational(num: 1, den: 25), frameRate: AVRational(num: 25, den: 1))
}

/// Names FFmpeg uses for pixel formats.
public enum PixelFormats {
    public static func named(_ name: String) -> AVPixelFormat? {
        let f = av_get_pix_fmt(name)
        return f == AV_PIX_FMT_NONE ? nil : f
    }
    public static func name(_ f: AVPixelFormat) -> String {
        av_get_pix_fmt_name(f).map { String(cString: $0) } ?? "none"
    }
    /// Bits per component (8 for yuv420p, 10 for yuv420p10le and p010le).
    public static func bitDepth(_ f: AVPixelFormat) -> Int {
        guard let d = av_pix_fmt_desc_get(f) else { return 8 }
        return Int(d.pointee.comp.0.depth)
    }
    /// The formats an encoder accepts.
    public static func supported(byEncoder name: String) -> [AVPixelFormat] {
        guard let codec = avcodec_find_encoder_by_name(name), var p = codec.pointee.pix_fmts else { return [] }
        var out: [AVPixelFormat] = []
        while p.pointee != AV_PIX_FMT_NONE { out.append(p.pointee); p += 1 }
        return out
    }
}

extension Encoder {
    /// Opens encoder `name` for `config`, mapping quality and preset onto its own options.
    public static func openVideo(name: String, config: VideoEncoderConfig, path: String? = nil) throws -> Encoder {
        guard let codec = avcodec_find_encoder_by_name(name) else {
            if CodecCatalog.entry(named: name) != nil {
                throw MediaError.encoderUnavailable(name: name, reason: "not in this FFmpeg build")
            }
            throw MediaError.unknownEncoder(name)
        }
        let supported = PixelFormats.supported(byEncoder: name)
        if !supported.isEmpty, !supported.contains(config.pixelFormat) {
            throw MediaError.unsupportedPixelFormat(PixelFormats.name(config.pixelFormat), encoder: name,
                                                    supported: supported.map(PixelFormats.name))
        }
        let cc = try CodecContext(codec: codec, path: path)
        let ctx = cc.pointer
        ctx.pointee.width = Int32(config.width)
        ctx.pointee.height = Int32(config.height)
        ctx.pointee.pix_fmt = config.pixelFormat
        ctx.pointee.time_base = config.timeBase
        ctx.pointee.framerate = config.frameRate
        ctx.pointee.sample_aspect_ratio = config.sampleAspectRatio
        ctx.pointee.color_primaries = config.color.primaries
        ctx.pointee.color_trc = config.color.transfer
        ctx.pointee.colorspace = config.color.matrix
        ctx.pointee.color_range = config.color.range
        ctx.pointee.thread_count = Int32(config.threads)
        if config.globalHeader { ctx.pointee.flags |= AV_CODEC_FLAG_GLOBAL_HEADER }
        ctx.pointee.field_order = config.fieldOrder
        if name == "libx264", ![AV_FIELD_UNKNOWN, AV_FIELD_PROGRESSIVE].contains(config.fieldOrder) {
            ctx.pointee.flags |= AV_CODEC_FLAG_INTERLACED_DCT | AV_CODEC_FLAG_INTERLACED_ME
        }
        let quality = String(config.quality)
        let preset = config.preset ?? CodecCatalog.entry(named: name)?.defaultPreset
        func set(_ key: String, _ value: String) throws {
            guard vfx_has_priv_opt(ctx, key) != 0 else { return }
            try check(vfx_set_priv_opt(ctx, key, value), "setting \(name) option \(key)=\(value)", path: path)
        }
        switch name {
        case "libaom-av1", "libvpx-vp9":
            ctx.pointee.bit_rate = 0
            try set("crf", quality)
            if let preset { try set("cpu-used", preset) }
            if name == "libvpx-vp9" { try set("row-mt", "1") }
        case "ffv1":
            // Version 3 codes slices in parallel.
            try set("level", "3")
            ctx.pointee.slices = 4
        case let n where n.hasSuffix("_nvenc"):
            ctx.pointee.bit_rate = 0
            try set("rc", "vbr")
            try set("cq", quality)
            if let preset { try set("preset", preset) }
        default:
            try set("crf", quality)
            if let preset { try set("preset", preset) }
        }
        if name == "libx265" {
            var params = ["log-level=error"]
            if let hdr = config.hdr { params += ["hdr10=1"] + hdr.x265Parameters }
            try set("x265-params", params.joined(separator: ":"))
        }
        let code = avcodec_open2(ctx, codec, nil)
        if code < 0 {
            let hint = name.hasSuffix("_nvenc") ? " (no usable NVIDIA GPU and driver)" : ""
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
