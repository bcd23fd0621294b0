import CFFmpeg

/// Resamples and re-chunks decoded audio into what an audio encoder takes (libavfilter:
/// abuffer -> aformat -> abuffersink, with the encoder's frame size).
package final class AudioConverter {
    private let graph: UnsafeMutablePointer<AVFilterGraph>
    private let source: UnsafeMutablePointer<AVFilterContext>
    private let sink: UnsafeMutablePointer<AVFilterContext>

    package init(decoder: Decoder, encoder: Encoder) throws {
        guard let g = avfilter_graph_alloc() else {
            throw FFmpegError(call: "avfilter_graph_alloc", path: nil, code: vfx_averror_enomem())
        }
        graph = g
        do {
            let d = decoder.pointer.pointee, e = encoder.pointer.pointee
            var inLayout = d.ch_layout
            if inLayout.order == AV_CHANNEL_ORDER_UNSPEC { av_channel_layout_default(&inLayout, d.ch_layout.nb_channels) }
            let outLayout = e.ch_layout
            let inName = ChannelLayoutName.of(inLayout), outName = ChannelLayoutName.of(outLayout)
            let tb = decoder.timeBase
            let srcArgs = "time_base=\(tb.num)/\(tb.den):sample_rate=\(d.sample_rate):sample_fmt=\(String(cString: av_get_sample_fmt_name(d.sample_fmt))):channel_layout=\(inName)"
            let fmtArgs = "sample_fmts=\(String(cString: av_get_sample_fmt_name(e.sample_fmt))):sample_rates=\(e.sample_rate):channel_layouts=\(outName)"
            var src: UnsafeMutablePointer<AVFilterContext>? = nil
            var fmt: UnsafeMutablePointer<AVFilterContext>? = nil
            var snk: UnsafeMutablePointer<AVFilterContext>? = nil
            try check(avfilter_graph_create_filter(&src, avfilter_get_by_name("abuffer"), "in", srcArgs, nil, g), "avfilter_graph_create_filter(abuffer \(srcArgs))")
            try check(avfilter_graph_create_filter(&fmt, avfilter_get_by_name("aformat"), "fmt", fmtArgs, nil, g), "avfilter_graph_create_filter(aformat \(fmtArgs))")
            try check(avfilter_graph_create_filter(&snk, avfilter_get_by_name("abuffersink"), "out", nil, nil, g), "avfilter_graph_create_filter(abuffersink)")
            guard let src, let fmt, let snk else { throw FFmpegError(call: "avfilter_graph_create_filter", path: nil, code: vfx_averror_enomem()) }
            try check(avfilter_link(src, 0, fmt, 0), "avfilter_link")
            try check(avfilter_link(fmt, 0, snk, 0), "avfilter_link")
            try check(avfilter_graph_config(g, nil), "avfilter_graph_config")
            if encoder.frameSize > 0 { av_buffersink_set_frame_size(snk, UInt32(encoder.frameSize)) }
            source = src
            sink = snk
        } catch {
            var p: UnsafeMutablePointer<AVFilterGraph>? = g
            avfilter_graph_free(&p)
            throw error
        }
    }

    deinit {
        var p: UnsafeMutablePointer<AVFilterGraph>? = graph
        avfilter_graph_free(&p)
    }

    /// Feeds a decoded frame, or `nil` at the end.
    package func push(_ frame: Frame?) throws {
        try check(av_buffersrc_add_frame_flags(source, frame?.pointer, 0), "av_buffersrc_add_frame_flags")
    }

    /// Pulls the next converted frame.
    package func pull(into frame: Frame) throws -> Step<Void> {
        let code = av_buffersink_get_frame(sink, frame.pointer)
        if code >= 0 { return .value(()) }
        if code == AVResult.again { return .needsInput }
        if code == AVResult.endOfFile { return .endOfStream }
        throw FFmpegError(call: "av_buffersink_get_frame", path: nil, code: code)
    }

    /// The time base of frames leaving the sink.
    package var timeBase: AVRational { av_buffersink_get_time_base(sink) }
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
