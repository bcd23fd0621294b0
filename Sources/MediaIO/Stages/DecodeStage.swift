import CFFmpeg

/// Decoding as a stage (packets in, frames out). Corrupt packets are skipped and reported; a packet
/// the decoder cannot take yet waits until its frames have been received.
///
/// A decoder on a device (NVDEC, VA-API) that fails mid-stream is replaced by a CPU decoder, never a
/// failed job: the packets since the keyframe before the last one are kept (``ReplayBuffer``), the CPU
/// decoder decodes them again and the frames already given are dropped, so none is lost or repeated.
public final class DecodeStage: Stage {
    /// The decoder now in use: the one given, or the CPU decoder that took over from its device.
    public private(set) var decoder: Decoder
    /// Packets waiting for the decoder, in order (nil: the end).
    private var queue: [Packet?] = []
    private var queueStart = 0
    private var ended = false
    private let onCorrupt: (String) -> Void

    // Taking over from a device.
    private let cpuDecoder: (() throws -> Decoder)?
    private let onWarning: (String) -> Void
    private var replay: ReplayBuffer?
    private var alreadyGiven: ReplayBuffer.AlreadyGiven?
    private var awaitingKeyframe = false
    private var lastGiven: Int64?, givenAtTakeover: Int64?
    private var framesGiven = 0
    private var gapFrom: Int64?
    /// The device whose decoder failed, once a CPU decoder took over.
    public private(set) var failedDevice: String?
    /// The size and pixel format of the first video frame. Later frames that differ (a stream that
    /// changes size mid-way; the CPU decoder's planar frames after a device's NV12 or P010) are converted
    /// to it, so the steps and the encoder see one layout throughout, as the ffmpeg CLI's output does.
    private var firstLayout: (width: Int32, height: Int32, format: Int32)?
    private let isVideo: Bool
    private var converter: (Scaler, Frame)?
    private var saidLayoutChange = false

    /// `cpuDecoder` opens the decoder that takes over when `decoder` is on a device (or has a test
    /// fault) and fails; `onWarning` hears what the job should warn of (a takeover, a change of size).
    public init(_ decoder: Decoder, onCorrupt: @escaping (String) -> Void,
                cpuDecoder: (() throws -> Decoder)? = nil, onWarning: @escaping (String) -> Void = { _ in }) {
        self.decoder = decoder; self.onCorrupt = onCorrupt
        self.cpuDecoder = cpuDecoder; self.onWarning = onWarning
        isVideo = decoder.pointer.pointee.codec_type == AVMEDIA_TYPE_VIDEO
    }

    /// Gives the decoder a test fault (see ``DecoderFault``), as if it ran on a device that fails.
    package func inject(_ fault: DecoderFault, replayBytes: Int?) {
        decoder.fault = fault
        replay = ReplayBuffer(budget: replayBytes)
    }

    private var canTakeOver: Bool { cpuDecoder != nil && failedDevice == nil && (decoder.device != nil || decoder.fault != nil) }

    public func send(_ packet: Packet?) throws {
        if canTakeOver, replay == nil { replay = ReplayBuffer(budget: nil) }
        if let packet, replay != nil { try replay!.keep(packet) }
        if packet == nil { ended = true }
        if awaitingKeyframe, let packet {
            guard packet.isKeyframe else { return }
            awaitingKeyframe = false
        }
        guard queueStart == queue.count else { return try enqueue(packet) }
        try deliver(packet)
    }

    /// Sends a packet to the decoder now, or queues it when the decoder is full.
    private func deliver(_ packet: Packet?) throws {
        let result: Decoder.SendResult
        do { result = try decoder.send(packet) } catch let error as FFmpegError where canTakeOver {
            return try takeOver(after: error)
        }
        switch result {
        case .accepted: break
        case .full: try enqueue(packet)
        case .corrupt(let message): onCorrupt(message)
        }
    }

    private func enqueue(_ packet: Packet?) throws {
        guard let packet else { return queue.append(nil) }
        let held = try Packet()
        try check(av_packet_ref(held.pointer, packet.pointer), "av_packet_ref")
        queue.append(held)
    }

    public func receive(into frame: Frame) throws -> Pulled<Void> {
        while true {
            let got: Pulled<Void>
            do { got = try decoder.receive(into: frame) } catch let error as FFmpegError where canTakeOver {
                frame.unref()
                try takeOver(after: error)
                continue
            }
            switch got {
            case .value:
                if alreadyGiven?.contains(frame) == true || isBehind(frame) { frame.unref(); continue }
                if isVideo { try keepLayout(frame) }
                noteGiven(frame)
                return got
            case .needsInput:
                guard queueStart < queue.count else { return got }
                let next = queue[queueStart]
                queueStart += 1
                if queueStart == queue.count { queue.removeAll(keepingCapacity: true); queueStart = 0 }
                try deliver(next)
            case .endOfStream:
                if gapFrom != nil { reportGap(to: nil) }
                return got
            }
        }
    }

    /// A frame the CPU decoder gives from before the last one given (one the device never gave, such
    /// as a picture it could not decode at the start) would go back in time: it is dropped too.
    private func isBehind(_ frame: Frame) -> Bool {
        guard let last = givenAtTakeover, let t = frame.bestEffortTimestamp else { return false }
        return t <= last
    }

    private func keepLayout(_ frame: Frame) throws {
        let f = frame.pointer.pointee
        guard let layout = firstLayout else { return firstLayout = (f.width, f.height, f.format) }
        guard (f.width, f.height, f.format) != layout else { return }
        if (f.width, f.height) != (layout.width, layout.height), !saidLayoutChange {
            saidLayoutChange = true
            let at = frame.bestEffortTimestamp.map { " at \(seconds(decoder.timeBase.seconds($0)))" } ?? ""
            onWarning("the video changes from \(layout.width)x\(layout.height) to \(f.width)x\(f.height)\(at); "
                           + "its frames from there on are scaled to \(layout.width)x\(layout.height)")
        }
        let (scaler, out) = try converter ?? (Scaler(), Frame())
        converter = (scaler, out)
        try out.allocateVideo(width: Int(layout.width), height: Int(layout.height), format: AVPixelFormat(rawValue: layout.format))
        try out.copyProperties(from: frame)
        let full = f.color_range == AVCOL_RANGE_JPEG
        try scaler.scale(frame, into: out, sourceMatrix: f.colorspace, sourceFullRange: full, destinationMatrix: f.colorspace,
                         destinationFullRange: full)
        frame.take(out)
    }

    private func noteGiven(_ frame: Frame) {
        replay?.gave(frame)
        framesGiven += 1
        if gapFrom != nil { reportGap(to: frame.bestEffortTimestamp) }
        if let t = frame.bestEffortTimestamp { lastGiven = t }
    }

    private func reportGap(to end: Int64?) {
        let tb = decoder.timeBase
        guard let start = gapFrom else { return }
        gapFrom = nil
        let from = start == .min ? "from the start" : "after \(seconds(tb.seconds(start)))"
        let to = end.map { " up to \(seconds(tb.seconds($0)))" } ?? " to the end"
        onWarning("the frames \(from)\(to) could not be decoded again (more than the replay budget since the "
                   + "last keyframe) and are missing")
    }

    /// Replaces the failed device decoder by a CPU decoder that decodes the kept packets again.
    private func takeOver(after error: FFmpegError) throws {
        guard let cpuDecoder, var buffer = replay else { throw error }
        let device = decoder.device?.title ?? "the decoding device"
        let done = framesGiven
        failedDevice = decoder.device?.label ?? "test fault"
        replay = nil
        let cpu = try cpuDecoder()
        cpu.skipsNonReferenceFrames = decoder.skipsNonReferenceFrames
        decoder = cpu
        let startsAtKeyframe = buffer.startsAtKeyframe
        let (packets, given) = buffer.takeOver()
        alreadyGiven = given
        givenAtTakeover = lastGiven
        let waiting = queue[queueStart...].contains { $0 == nil }
        queue = packets + (ended || waiting ? [nil] : []); queueStart = 0
        var said = "\(device) failed after \(done) frames (\(error.message), in \(error.call)); the CPU decoder took over"
        if startsAtKeyframe, let first = packets.first?.pts {
            said += " from the keyframe at \(seconds(decoder.timeBase.seconds(first)))"
        } else if !startsAtKeyframe {
            awaitingKeyframe = !ended
            gapFrom = lastGiven ?? Int64.min
            said += " from the next keyframe"
        }
        onWarning(said)
    }

    private func seconds(_ s: Double) -> String {
        let ms = Int((s * 1000).rounded())
        let fraction = String(abs(ms) % 1000)
        return "\(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) s"
    }
}
