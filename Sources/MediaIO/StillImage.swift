import CFFmpeg

/// Single pictures: frames to 8-bit RGB, two pictures side by side, and PNG files.
public enum StillImage {
    /// `frame` converted to RGB24 at its own size (its matrix and range honoured).
    public static func rgb(_ frame: Frame) throws -> Frame {
        let out = try Frame()
        try out.allocateVideo(width: frame.width, height: frame.height, format: AV_PIX_FMT_RGB24)
        let matrix = VideoEffectStage.matrix(for: frame.pointer.pointee.colorspace, height: frame.height)
        try Scaler().scale(frame, into: out, sourceMatrix: matrix, sourceFullRange: VideoEffectStage.isFullRange(frame),
                           destinationMatrix: matrix, destinationFullRange: true)
        return out
    }

    /// Two RGB24 pictures side by side on black, `gap` pixels apart.
    public static func sideBySide(_ left: Frame, _ right: Frame, gap: Int = 8) throws -> Frame {
        let out = try Frame()
        let width = left.width + gap + right.width, height = max(left.height, right.height)
        try out.allocateVideo(width: width, height: height, format: AV_PIX_FMT_RGB24)
        let o = out.pointer.pointee
        for y in 0..<height { memset(o.data.0! + y * Int(o.linesize.0), 0, width * 3) }
        for (frame, x0) in [(left, 0), (right, left.width + gap)] {
            let f = frame.pointer.pointee
            for y in 0..<frame.height {
                memcpy(o.data.0! + y * Int(o.linesize.0) + x0 * 3, f.data.0! + y * Int(f.linesize.0), frame.width * 3)
            }
        }
        return out
    }

    /// A PNG file's bytes for an RGB24 frame.
    public static func png(_ rgb: Frame, name: String) throws -> [UInt8] {
        guard let codec = avcodec_find_encoder(AV_CODEC_ID_PNG) else { throw MediaError.encoderUnavailable(name: "png", reason: "not in this FFmpeg build") }
        let context = try CodecContext(codec: codec, path: name)
        let c = context.pointer
        c.pointee.width = Int32(rgb.width); c.pointee.height = Int32(rgb.height)
        c.pointee.pix_fmt = AV_PIX_FMT_RGB24
        c.pointee.time_base = AVRational(num: 1, den: 25)
        try check(avcodec_open2(c, codec, nil), "avcodec_open2(png)", path: name)
        let encoder = Encoder(context: context)
        rgb.pts = 0
        _ = try encoder.send(rgb)
        _ = try encoder.send(nil)
        let packet = try Packet()
        var bytes: [UInt8] = []
        while case .value = try encoder.receive(into: packet) {
            let p = packet.pointer.pointee
            bytes += UnsafeBufferPointer(start: p.data, count: Int(p.size))
            packet.unref()
        }
        return bytes
    }
}
