import CFFmpeg
import MediaIO

/// How one input audio stream reaches the output: copied packet for packet, or decoded, converted
/// and encoded. Decided per stream before any frame moves, from what the muxer really accepts.
final class AudioRoute {
    let inputIndex: Int
    let outputIndex: Int
    let inputTimeBase: AVRational
    /// Packet timestamps move this much earlier (the job's common start offset, in this stream's time base).
    let offset: Int64
    /// Set when the audio is re-encoded rather than copied.
    private let decoder: Decoder?
    private let converter: AudioConverter?
    private let encoder: Encoder?
    private let frame: Frame
    /// Where the audio written so far ends, in seconds (for the output's timing check).
    private(set) var end: Double = 0
    private(set) var start: Double?

    var isCopy: Bool { decoder == nil }

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
        let ist = input.stream(index)
        inputIndex = index
        inputTimeBase = ist.pointee.time_base
        offset = av_rescale_q(startTime, AVRational(num: 1, den: Int32(AV_TIME_BASE)), inputTimeBase)
        frame = try Frame()
        if steps.isEmpty, output.acceptsCopy(of: input, stream: index) {
            outputIndex = try output.addCopiedStream(from: input, stream: index)
            decoder = nil; converter = nil; encoder = nil
            return
        }
        let name = container.audioEncoder
        do {
            let dec = try Decoder(input: input, stream: index)
            let d = dec.pointer.pointee
            let enc = try Encoder.openAudio(name: name, sampleRate: d.sample_rate, layout: d.ch_layout,
                                            globalHeader: output.needsGlobalHeader, path: output.name)
            converter = try AudioConverter(decoder: dec, encoder: enc, steps: steps, name: input.name)
            outputIndex = try output.addStream(encoder: enc)
            output.copyLanguage(from: ist, to: output.stream(outputIndex))
            decoder = dec; encoder = enc
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

    /// Takes one input packet (already read from this route's stream), or nil to drain.
    func handle(_ packet: Packet?, output: OutputFile, write: (Encoder, Int) throws -> Void) throws {
        if let packet { packet.shift(by: offset) }
        guard let dec = decoder, let conv = converter, let enc = encoder else {
            guard let packet else { return }
            // Copied as they are, as the ffmpeg CLI copies them: the muxer's edit list hides them again.
            if !packet.isDiscarded { note(pts: packet.pts, duration: packet.duration, timeBase: inputTimeBase) }
            packet.pointer.pointee.stream_index = Int32(outputIndex)
            packet.pointer.pointee.pos = -1
            try output.write(packet, timeBase: inputTimeBase)
            return
        }
        if case .corrupt = try dec.send(packet) { return }
        while case .value = try dec.receive(into: frame) {
            try conv.push(frame)
            frame.unref()
            try pull(conv, enc, write)
        }
        if packet == nil {
            try conv.push(nil)
            try pull(conv, enc, write)
            while try !enc.send(nil) { try write(enc, outputIndex) }
            try write(enc, outputIndex)
        }
    }

    private func pull(_ conv: AudioConverter, _ enc: Encoder, _ write: (Encoder, Int) throws -> Void) throws {
        while case .value = try conv.pull(into: frame) {
            let f = frame.pointer.pointee
            note(pts: f.pts == vfx_nopts() ? nil : f.pts, duration: Int64(f.nb_samples),
                 timeBase: AVRational(num: 1, den: max(1, f.sample_rate)), frameTimeBase: conv.timeBase)
            if frame.pts != vfx_nopts() { frame.pts = av_rescale_q(frame.pts, conv.timeBase, enc.timeBase) }
            while try !enc.send(frame) { try write(enc, outputIndex) }
            frame.unref()
            try write(enc, outputIndex)
        }
    }

    /// Records where audio starts and ends; `duration` is in `timeBase` (samples at the sample rate for
    /// decoded frames, whose `pts` is in `frameTimeBase`).
    private func note(pts: Int64?, duration: Int64, timeBase: AVRational, frameTimeBase: AVRational? = nil) {
        guard let pts else { return }
        let t = Double(pts) * av_q2d(frameTimeBase ?? timeBase)
        if start == nil { start = t }
        end = max(end, t + Double(max(0, duration)) * av_q2d(timeBase))
    }
}
