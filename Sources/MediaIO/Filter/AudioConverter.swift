import CFFmpeg

/// Resamples and re-chunks decoded audio into what an audio encoder takes, after any steps
/// (abuffer -> steps -> aformat -> abuffersink, with the encoder's frame size).
public final class AudioConverter: Stage {
    private let graph: FilterGraph
    private let source: FilterGraph.Node
    private let sink: FilterGraph.Node

    /// `steps` run on the decoded audio before conversion (trim, tempo, fades).
    public init(decoder: Decoder, encoder: Encoder, steps: [FilterSpec] = [], name: String? = nil) throws {
        let d = decoder.pointer.pointee, e = encoder.pointer.pointee
        graph = try FilterGraph(name: name, threads: 1)
        source = try graph.addAudioSource(sampleRate: d.sample_rate, format: d.sample_fmt, layout: d.ch_layout, timeBase: decoder.timeBase.av)
        let format = FilterSpec("aformat", [("sample_fmts", String(cString: av_get_sample_fmt_name(e.sample_fmt))),
                                            ("sample_rates", "\(e.sample_rate)"), ("channel_layouts", ChannelLayoutName.of(e.ch_layout))])
        // Float audio is clipped to full scale first: a damaged stream can decode to samples in the billions,
        // on which FFmpeg 5.1's AAC encoder spins without end. Within full scale this changes nothing.
        let float = [AV_SAMPLE_FMT_FLT, AV_SAMPLE_FMT_FLTP, AV_SAMPLE_FMT_DBL, AV_SAMPLE_FMT_DBLP].contains(d.sample_fmt)
        let clip = float ? [FilterSpec("asoftclip", [("type", "hard")])] : []
        let last = try graph.chain(clip + steps + [format], after: source)
        sink = try graph.addSink(audio: true)
        try graph.link(last, to: sink)
        try graph.configure()
        if encoder.frameSize > 0 { graph.setFrameSize(encoder.frameSize, of: sink) }
    }

    /// Feeds a decoded frame, or `nil` at the end.
    public func send(_ frame: Frame?) throws { try graph.push(frame, into: source) }

    /// Pulls the next converted frame.
    public func receive(into frame: Frame) throws -> Pulled<Void> { try graph.pull(sink, into: frame) }

    /// The time base of frames leaving the sink.
    public var timeBase: Rational { Rational(graph.timeBase(of: sink)) }
}

/// FFmpeg's name for a channel layout ("stereo", "5.1", "4 channels").
package enum ChannelLayoutName {
    package static func of(_ layout: AVChannelLayout) -> String {
        var l = layout
        var buffer = [CChar](repeating: 0, count: 128)
        guard av_channel_layout_describe(&l, &buffer, buffer.count) >= 0 else { return "unknown layout" }
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
