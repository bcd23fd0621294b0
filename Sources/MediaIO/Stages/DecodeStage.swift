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
    private var replayBudget: Int?
    private var alreadyGiven: ReplayBuffer.AlreadyGiven?
    private var awaitingKeyframe = false
    private var lastGiven: Int64?, givenAtTakeover: Int64?
    private var framesGiven = 0
    private var gapFrom: Int64?
    /// The device whose decoder failed, once a CPU decoder took over.
    public private(set) var failedDevice: String?
    /// Video only: every frame in the first one's size and format (see ``LayoutKeeper``).
    private var layout: LayoutKeeper?

    /// `cpuDecoder` opens the decoder that takes over when `decoder` is on a device (or has a test
    /// fault) and fails; `onWarning` hears what the job should warn of (a takeover, a change of size).
    public init(_ decoder: Decoder, onCorrupt: @escaping (String) -> Void,
                cpuDecoder: (() throws -> Decoder)? = nil, onWarning: @escaping (String) -> Void = { _ in }) {
        self.decoder = decoder; self.onCorrupt = onCorrupt
        self.cpuDecoder = cpuDecoder; self.onWarning = onWarning
        if decoder.pointer.pointee.codec_type == AVMEDIA_TYPE_VIDEO { layout = LayoutKeeper() }
    }

    /// Gives the decoder a test fault (see ``DecoderFault``), as if it ran on a device that fails.
    package func inject(_ fault: DecoderFault, replayBytes: Int?) {
        decoder.fault = fault
        replayBudget = replayBytes
    }

    private var canTakeOver: Bool { cpuDecoder != nil && failedDevice == nil && (decoder.device != nil || decoder.fault != nil) }

    public func send(_ packet: Packet?) throws {
        if canTakeOver, replay == nil { replay = ReplayBuffer(budget: replayBudget) }
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
                if wasGiven(frame) { frame.unref(); continue }
                if layout != nil, let warning = try layout!.keep(frame, at: frame.bestEffortTimestamp.map { seconds(decoder.timeBase.seconds($0)) }) {
                    onWarning(warning)
                }
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

    /// After a takeover: whether the CPU decoder's frame was given already. A frame from before the last
    /// one given that was not (a picture the device could not decode at the start) would go back in
    /// time, so it is dropped too. Once a frame passes the last one given, the record is done with (a
    /// later jump back in the stream's times is then the stream's own).
    private func wasGiven(_ frame: Frame) -> Bool {
        guard alreadyGiven != nil else { return false }
        if alreadyGiven!.contains(frame) { return true }
        if case .times? = alreadyGiven, let last = givenAtTakeover, let t = frame.bestEffortTimestamp {
            if t <= last { return true }
            alreadyGiven = nil; givenAtTakeover = nil
        }
        return false
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

    /// A time for messages; a file's timestamps can be anything, so one far out of range is printed as it is.
    private func seconds(_ s: Double) -> String {
        guard s.isFinite, abs(s) < 1e12 else { return "\(s) s" }
        let ms = abs(Int((s * 1000).rounded()))
        let fraction = String(ms % 1000)
        return "\(s < 0 ? "-" : "")\(ms / 1000).\(String(repeating: "0", count: 3 - fraction.count))\(fraction) s"
    }
}
