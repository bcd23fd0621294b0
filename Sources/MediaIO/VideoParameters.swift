import CFFmpeg

/// What a video stream says of itself, in Swift types: what a job plans and opens its encoder from.
public struct VideoParameters: Sendable {
    public var width: Int
    public var height: Int
    /// Packets and decoded frames carry timestamps in this.
    public var timeBase: Rational
    /// FFmpeg's guess at the frame rate (25 when the stream says none).
    public var frameRate: Rational
    /// FFmpeg's guess at the sample (pixel) aspect ratio; 0/1 when unknown.
    public var sampleAspectRatio: Rational
    public var fieldOrder: FieldOrder
    /// The HDR transfer's name (`PQ`, `HLG`) when the stream is HDR.
    public var hdrTransfer: String?
    /// The colour as tagged.
    var primaries: AVColorPrimaries, transfer: AVColorTransferCharacteristic, matrix: AVColorSpace, range: AVColorRange

    /// The colour a picture of `height` rows made from this stream carries: what the stream says, the
    /// matrix named for the height when it says none, limited range unless it is full.
    public func outputColor(height: Int) -> ColorProperties {
        var color = ColorProperties()
        color.primaries = primaries
        color.transfer = transfer
        color.matrix = VideoEffectStage.matrix(for: matrix, height: height)
        color.range = range == AVCOL_RANGE_JPEG ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG
        return color
    }
}

extension InputFile {
    /// The parameters of video stream `index`.
    public func videoParameters(stream index: Int) -> VideoParameters {
        let st = stream(index)
        let par = st.parameters.pointee
        let guessed = av_guess_frame_rate(context, st, nil)
        return VideoParameters(
            width: Int(par.width), height: Int(par.height), timeBase: Rational(st.pointee.time_base),
            frameRate: guessed.num > 0 && guessed.den > 0 ? Rational(guessed) : Rational(25, 1),
            sampleAspectRatio: Rational(av_guess_sample_aspect_ratio(context, st, nil)), fieldOrder: FieldOrder(par.field_order),
            hdrTransfer: HDRTransfer.name(par.color_trc),
            primaries: par.color_primaries, transfer: par.color_trc, matrix: par.color_space, range: par.color_range)
    }

    /// The time base of stream `index`'s packets.
    public func timeBase(of index: Int) -> Rational { Rational(stream(index).pointee.time_base) }

    /// Where the file says its content starts, in seconds (0 when it does not say).
    public var startSeconds: Double {
        let s = context.pointee.start_time
        return s == Timestamp.none ? 0 : Rational.microseconds.seconds(s)
    }

    /// The HDR10 metadata stream `index`'s container carries, if any.
    public func hdrMetadata(stream index: Int) -> HDRMetadata? { HDRMetadata(stream: stream(index)) }

    /// The HDR10 metadata the first decoded frame of stream `index` carries (HEVC SEI, AV1 metadata),
    /// for containers that do not repeat it in their header: a second, short read of the file at `url`.
    public static func firstFrameHDRMetadata(url: String, options: InputOptions, stream index: Int) -> HDRMetadata? {
        guard let input = try? InputFile(url: url, options: options),
              let decoder = try? Decoder(input: input, stream: index),
              let packet = try? Packet(), let frame = try? Frame() else { return nil }
        for _ in 0..<256 {
            guard case .packet? = try? input.read(into: packet) else { break }
            defer { packet.unref() }
            guard packet.streamIndex == index, (try? decoder.send(packet)) != nil else { continue }
            if case .value? = try? decoder.receive(into: frame) { return HDRMetadata(frame: frame) }
        }
        return nil
    }
}
