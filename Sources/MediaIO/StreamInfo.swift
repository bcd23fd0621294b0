import CFFmpeg

/// What a stream is, read off the demuxer without decoding.
public struct StreamInfo: Sendable, Codable, Equatable {
    public var index: Int
    public var kind: String
    public var codec: String
    public var width: Int?
    public var height: Int?
    public var pixelFormat: String?
    public var frameRate: Double?
    public var frameCount: Int?
    public var duration: Double?
    public var sampleRate: Int?
    public var channels: Int?
    /// FFmpeg's name for the channel layout; nil when the file does not say.
    public var channelLayout: String?
    public var rotation: Double?
}

extension InputFile {
    /// A description of stream `index`.
    public func info(stream index: Int) -> StreamInfo {
        let st = stream(index)
        let par = st.parameters.pointee
        let kind: String
        switch par.codec_type {
        case AVMEDIA_TYPE_VIDEO: kind = "video"
        case AVMEDIA_TYPE_AUDIO: kind = "audio"
        case AVMEDIA_TYPE_SUBTITLE: kind = "subtitle"
        case AVMEDIA_TYPE_DATA: kind = "data"
        case AVMEDIA_TYPE_ATTACHMENT: kind = "attachment"
        default: kind = "unknown"
        }
        var info = StreamInfo(index: index, kind: kind, codec: String(cString: vfx_codec_name(par.codec_id)))
        let tb = st.pointee.time_base
        if st.pointee.duration > 0, st.pointee.duration != vfx_nopts(), tb.den != 0 {
            info.duration = Double(st.pointee.duration) * av_q2d(tb)
        }
        if par.codec_type == AVMEDIA_TYPE_VIDEO {
            info.width = Int(par.width); info.height = Int(par.height)
            if let name = av_get_pix_fmt_name(AVPixelFormat(rawValue: par.format)) { info.pixelFormat = String(cString: name) }
            let rate = av_guess_frame_rate(context, st, nil)
            if rate.num > 0, rate.den > 0 { info.frameRate = av_q2d(rate) }
            if st.pointee.nb_frames > 0 {
                // Index entries an edit list hides (the lead-in of a stream-copy cut) are not shown frames.
                var hidden = 0
                for e in 0..<avformat_index_get_entries_count(st) {
                    if let entry = avformat_index_get_entry(st, e), entry.pointee.flags & AVINDEX_DISCARD_FRAME != 0 { hidden += 1 }
                }
                info.frameCount = max(0, Int(st.pointee.nb_frames) - hidden)
            }
            let rotation = vfx_stream_rotation(st)
            if rotation != 0 { info.rotation = rotation }
        } else if par.codec_type == AVMEDIA_TYPE_AUDIO {
            info.sampleRate = Int(par.sample_rate)
            info.channels = Int(vfx_channels(st.parameters))
            let layout = st.parameters.pointee.ch_layout
            if layout.order != AV_CHANNEL_ORDER_UNSPEC { info.channelLayout = ChannelLayoutName.of(layout) }
        }
        return info
    }

    /// Frames the video stream should hold: the container's count, else duration x rate.
    public func expectedFrameCount(stream index: Int) -> Int? {
        let i = info(stream: index)
        if let n = i.frameCount { return n }
        if let d = i.duration ?? duration, let r = i.frameRate, d > 0 { return Int((d * r).rounded()) }
        return nil
    }
}
