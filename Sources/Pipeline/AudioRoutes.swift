import MediaIO

/// How one input audio stream reaches the output: copied packet for packet, or decoded, converted
/// and encoded. Decided per stream before any frame moves, from what the muxer really accepts.
final class AudioRoute {
    let inputIndex: Int
    let outputIndex: Int
    let inputTimeBase: Rational
    /// Packet timestamps move this much earlier (the job's common start offset, in this stream's time base).
    let offset: Int64
    /// Set when the audio is re-encoded rather than copied: decode -> convert -> encode.
    private let decoder: Decoder?
    private let encoder: Encoder?
    private let stages: (decode: Link<Packet, Frame>, convert: Link<Frame, Frame>, encode: Link<Frame, Packet>)?
    private let convertedTimeBase: Rational
    /// Where the audio written so far ends, in seconds (for the output's timing check).
    private(set) var end: Double = 0
    private(set) var start: Double?

    var isCopy: Bool { stages == nil }

    /// What made this stream: a copy, or the decoder and encoder (both on the CPU).
    var report: StreamReport {
        guard let decoder, let encoder else {
            return StreamReport(kind: "audio", decoder: "none", decoderDevice: "none", encoder: "copy", encoderDevice: "none")
        }
        return StreamReport(kind: "audio", decoder: decoder.codecName, decoderDevice: "cpu", encoder: encoder.name, encoderDevice: "cpu")
    }

    /// Plans the route for `index`; throws an error naming the stream when it can neither be copied nor encoded.
    /// `steps` (trim, tempo, fades) keep the sound in step with the picture; with any, the audio is re-encoded.
    init(input: InputFile, stream index: Int, output: OutputFile, container: OutputContainer, startTime: Int64,
         steps: [FilterSpec] = [], log: (String) -> Void) throws {
        inputIndex = index
        inputTimeBase = input.timeBase(of: index)
        offset = Rational.microseconds.rescale(startTime, to: inputTimeBase)
        if steps.isEmpty, output.acceptsCopy(of: input, stream: index) {
            outputIndex = try output.addCopiedStream(from: input, stream: index)
            decoder = nil; encoder = nil; stages = nil; convertedTimeBase = inputTimeBase
            return
        }
        let name = container.audioEncoder
        do {
            let dec = try Decoder(input: input, stream: index)
            let enc = try Encoder.openAudio(name: name, for: dec, globalHeader: output.needsGlobalHeader, path: output.name)
            let converter = try AudioConverter(decoder: dec, encoder: enc, steps: steps, name: input.name)
            outputIndex = try output.addStream(encoder: enc)
            output.copyLanguage(from: input, stream: index, to: outputIndex)
            decoder = dec; encoder = enc; convertedTimeBase = converter.timeBase
            // Corrupt audio is skipped quietly: the video's decoder reports damage to the file.
            stages = (try Link(DecodeStage(dec, onCorrupt: { _ in })), try Link(converter), try Link(EncodeStage(enc)))
            log("note: \(Self.describe(input, index)) is re-encoded to \(enc.name)"
                + (steps.isEmpty ? " for .\(container.fileExtension)" : " to follow the steps"))
        } catch {
            throw MediaError.audioStream(input: input.name, stream: Self.describe(input, index),
                                         reason: "cannot encode to \(name) for .\(container.fileExtension): \(error)")
        }
    }

    /// "audio stream #1 (pcm_s16le, 4 channels, no layout)".
    static func describe(_ input: InputFile, _ index: Int) -> String {
        let info = input.info(stream: index)
        var parts = [info.codec]
        if let c = info.channels { parts.append(c == 1 ? "1 channel" : "\(c) channels") }
        parts.append(info.channelLayout ?? "no layout")
        return "audio stream #\(index) (\(parts.joined(separator: ", ")))"
    }

    /// Whether a stream says enough of itself to be decoded (broadcast captures list audio PIDs that
    /// never carry a packet: no sample rate, no channels).
    static func isUsable(_ input: InputFile, _ index: Int) -> Bool {
        let info = input.info(stream: index)
        return (info.sampleRate ?? 0) > 0 && (info.channels ?? 0) > 0
    }

    /// Takes one input packet (already read from this route's stream), or nil to drain; hands what
    /// leaves for the muxer to `write` with its time base.
    func handle(_ packet: Packet?, write: (Packet, Rational) throws -> Void) throws {
        if let packet { packet.shift(by: offset) }
        guard let stages, let encoder else {
            guard let packet else { return }
            // Copied as they are, as the ffmpeg CLI copies them: the muxer's edit list hides them again.
            if !packet.isDiscarded { note(pts: packet.pts, duration: packet.duration, timeBase: inputTimeBase) }
            packet.route(toOutputStream: outputIndex)
            return try write(packet, inputTimeBase)
        }
        try stages.decode.push(packet) { frame in
            try stages.convert.push(frame) { converted in
                if let converted {
                    note(pts: converted.pts == Timestamp.none ? nil : converted.pts, duration: Int64(converted.sampleCount),
                         timeBase: Rational(1, Int32(max(1, converted.sampleRate))), frameTimeBase: convertedTimeBase)
                    if converted.pts != Timestamp.none { converted.pts = convertedTimeBase.rescale(converted.pts, to: encoder.timeBase) }
                }
                try stages.encode.push(converted) { out in
                    guard let out else { return }
                    out.streamIndex = outputIndex
                    try write(out, encoder.timeBase)
                }
            }
        }
    }

    /// Records where audio starts and ends; `duration` is in `timeBase` (samples at the sample rate for
    /// decoded frames, whose `pts` is in `frameTimeBase`).
    private func note(pts: Int64?, duration: Int64, timeBase: Rational, frameTimeBase: Rational? = nil) {
        guard let pts else { return }
        let t = (frameTimeBase ?? timeBase).seconds(pts)
        if start == nil { start = t }
        end = max(end, t + timeBase.seconds(max(0, duration)))
    }
}
