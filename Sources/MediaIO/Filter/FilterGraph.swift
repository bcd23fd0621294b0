import CFFmpeg

/// One filter and its options, as typed values turned to text by VideoFX itself.
public struct FilterSpec: Sendable, Equatable {
    public var name: String
    public var options: [(key: String, value: String)]

    public init(_ name: String, _ options: [(key: String, value: String)] = []) {
        self.name = name; self.options = options
    }

    public static func == (a: FilterSpec, b: FilterSpec) -> Bool {
        a.name == b.name && a.options.map(\.key) == b.options.map(\.key) && a.options.map(\.value) == b.options.map(\.value)
    }
}

/// An owned libavfilter graph with any number of buffer sources and sinks (video or audio),
/// built filter by filter from ``FilterSpec``s, never parsed from a string.
///
/// Only filters in ``allowed`` can be created: none of them reads or writes files, opens sockets
/// or loads code.
public final class FilterGraph {
    /// A filter inside this graph; valid only while the graph lives (the graph owns it).
    public struct Node { fileprivate let context: UnsafeMutablePointer<AVFilterContext> }

    /// The filters a graph may hold.
    public static let allowed: Set<String> = [
        // Sources, sinks and conversions.
        "buffer", "abuffer", "buffersink", "abuffersink", "aformat", "asoftclip",
        // What the effect catalogue lowers to.
        "trim", "atrim", "setpts", "asetpts", "atempo", "fps", "scale", "setsar", "crop", "transpose", "hflip", "vflip",
        "gblur", "unsharp", "edgedetect", "vignette", "noise", "fade", "afade",
        // Quality metrics (`vfx compare`); libvmaf writes only the log file VideoFX names for it.
        "split", "format", "psnr", "ssim", "libvmaf",
    ]

    private var graph: UnsafeMutablePointer<AVFilterGraph>?
    private var count = 0
    /// The user's name for the media, for errors.
    private let name: String?

    public init(name: String? = nil, threads: Int = 0) throws {
        guard let g = avfilter_graph_alloc() else {
            throw FFmpegError(call: "avfilter_graph_alloc", path: name, code: vfx_averror_enomem())
        }
        g.pointee.nb_threads = Int32(threads)
        graph = g
        self.name = name
    }

    deinit { avfilter_graph_free(&graph) }

    /// Frees the graph now (its filters write what they write on closing); nothing may be called after.
    public func release() { avfilter_graph_free(&graph) }

    /// Adds a filter with options set one by one through AVOptions.
    @discardableResult
    public func add(_ spec: FilterSpec) throws -> Node {
        guard Self.allowed.contains(spec.name), let filter = avfilter_get_by_name(spec.name) else {
            throw FFmpegError(call: "avfilter_get_by_name(\(spec.name)): not an allowed filter", path: name, code: vfx_averror_invaliddata())
        }
        count += 1
        guard let ctx = avfilter_graph_alloc_filter(graph, filter, "\(spec.name)\(count)") else {
            throw FFmpegError(call: "avfilter_graph_alloc_filter(\(spec.name))", path: name, code: vfx_averror_enomem())
        }
        for option in spec.options {
            try check(av_opt_set(ctx, option.key, option.value, AV_OPT_SEARCH_CHILDREN),
                      "av_opt_set(\(spec.name) \(option.key)=\(option.value))", path: name)
        }
        try check(avfilter_init_str(ctx, nil), "avfilter_init_str(\(spec.name))", path: name)
        return Node(context: ctx)
    }

    /// A video source fed with frames of this shape.
    package func addVideoSource(width: Int, height: Int, format: AVPixelFormat, timeBase: AVRational,
                               sampleAspectRatio: AVRational, frameRate: AVRational) throws -> Node {
        let sar = sampleAspectRatio.num > 0 && sampleAspectRatio.den > 0 ? sampleAspectRatio : AVRational(num: 1, den: 1)
        var options: [(key: String, value: String)] = [
            ("width", "\(width)"), ("height", "\(height)"), ("pix_fmt", String(cString: av_get_pix_fmt_name(format))),
            ("time_base", "\(timeBase.num)/\(timeBase.den)"), ("pixel_aspect", "\(sar.num)/\(sar.den)"),
        ]
        if frameRate.num > 0 && frameRate.den > 0 { options.append(("frame_rate", "\(frameRate.num)/\(frameRate.den)")) }
        return try add(FilterSpec("buffer", options))
    }

    /// An audio source fed with frames in this format.
    package func addAudioSource(sampleRate: Int32, format: AVSampleFormat, layout: AVChannelLayout, timeBase: AVRational) throws -> Node {
        var l = layout
        if l.order == AV_CHANNEL_ORDER_UNSPEC { av_channel_layout_default(&l, layout.nb_channels) }
        return try add(FilterSpec("abuffer", [
            ("time_base", "\(timeBase.num)/\(timeBase.den)"), ("sample_rate", "\(sampleRate)"),
            ("sample_fmt", String(cString: av_get_sample_fmt_name(format))), ("channel_layout", ChannelLayoutName.of(l)),
        ]))
    }

    /// A sink frames are pulled from.
    public func addSink(audio: Bool = false) throws -> Node { try add(FilterSpec(audio ? "abuffersink" : "buffersink")) }

    /// Connects `from`'s output pad to `to`'s input pad.
    public func link(_ from: Node, _ fromPad: Int = 0, to: Node, _ toPad: Int = 0) throws {
        try check(avfilter_link(from.context, UInt32(fromPad), to.context, UInt32(toPad)), "avfilter_link", path: name)
    }

    /// Adds `specs` in a line after `start` and returns the last node (`start` when empty).
    public func chain(_ specs: [FilterSpec], after start: Node) throws -> Node {
        var last = start
        for spec in specs {
            let node = try add(spec)
            try link(last, to: node)
            last = node
        }
        return last
    }

    /// Checks and configures the graph; call once, after every link.
    public func configure() throws { try check(avfilter_graph_config(graph, nil), "avfilter_graph_config", path: name) }

    /// Feeds a frame to a source (the frame is left untouched), or `nil` to end that input.
    public func push(_ frame: Frame?, into source: Node) throws {
        try check(av_buffersrc_add_frame_flags(source.context, frame?.pointer, Int32(AV_BUFFERSRC_FLAG_KEEP_REF)),
                  "av_buffersrc_add_frame_flags", path: name)
    }

    /// Pulls the next frame from a sink.
    public func pull(_ sink: Node, into frame: Frame) throws -> Pulled<Void> {
        let code = av_buffersink_get_frame(sink.context, frame.pointer)
        if code >= 0 { return .value(()) }
        if code == AVResult.again { return .needsInput }
        if code == AVResult.endOfFile { return .endOfStream }
        throw FFmpegError(call: "av_buffersink_get_frame", path: name, code: code)
    }

    /// The time base of frames leaving `sink`.
    package func timeBase(of sink: Node) -> AVRational { av_buffersink_get_time_base(sink.context) }
    /// The frame rate `sink` announces (0/1 when variable or unknown).
    package func frameRate(of sink: Node) -> AVRational { av_buffersink_get_frame_rate(sink.context) }
    /// The sample aspect ratio of frames leaving `sink`.
    package func sampleAspectRatio(of sink: Node) -> AVRational { av_buffersink_get_sample_aspect_ratio(sink.context) }

    /// Makes `sink` hand out frames of exactly this many samples (audio encoders with a fixed frame size).
    public func setFrameSize(_ samples: Int, of sink: Node) { av_buffersink_set_frame_size(sink.context, UInt32(samples)) }
}
