import CFFmpeg

/// What a CPU decoder needs to take over from a device that fails mid-stream without losing or
/// repeating a frame: the packets since the keyframe before the last one (frames decoded before the last
/// keyframe may still wait in the device's reorder queue), and the times of the frames already given
/// since the first packet kept. Kept within a byte budget: a group of pictures larger than it is not
/// kept, and a takeover then starts at the next keyframe, losing the frames up to it.
struct ReplayBuffer {
    /// Two groups of pictures of a 4K stream at 100 Mb/s with 2 s keyframe intervals.
    static let defaultBudget = 64 << 20

    private let budget: Int
    private var packets: [(packet: Packet, sequence: Int)] = []
    private var bytes = 0
    private var sequence = 0
    /// The frames given since the first packet kept: their times (nil: a frame without one) and how
    /// many packets had been sent when each was given.
    private var given: [(pts: Int64?, sentBy: Int)] = []

    init(budget: Int?) { self.budget = budget ?? Self.defaultBudget }

    /// Whether the kept packets begin at a keyframe (else a takeover must wait for the next one).
    var startsAtKeyframe: Bool { packets.first?.packet.isKeyframe == true }

    /// Keeps a reference to a packet about to be sent to the device's decoder.
    mutating func keep(_ packet: Packet) throws {
        sequence += 1
        if packet.isKeyframe, let second = packets.indices.dropFirst().first(where: { packets[$0].packet.isKeyframe }) {
            drop(upTo: second)
        }
        if !packet.isKeyframe, packets.isEmpty { return } // waiting for a keyframe to start again
        let held = try Packet()
        try check(av_packet_ref(held.pointer, packet.pointer), "av_packet_ref")
        packets.append((held, sequence))
        bytes += held.size
        while bytes > budget, !packets.isEmpty {
            // Drop the oldest group; with only one left, drop it all and start again at the next keyframe.
            let next = packets.indices.dropFirst().first { packets[$0].packet.isKeyframe } ?? packets.count
            drop(upTo: next)
        }
    }

    private mutating func drop(upTo index: Int) {
        for kept in packets[..<index] { bytes -= kept.packet.size }
        packets.removeFirst(index)
        // A frame given before the new first packet was sent cannot come out of decoding from it.
        let first = packets.first?.sequence ?? sequence + 1
        given.removeAll { $0.sentBy < first }
    }

    /// Notes a frame given downstream.
    mutating func gave(_ frame: Frame) {
        guard !packets.isEmpty else { return }
        given.append((frame.bestEffortTimestamp, sequence))
    }

    /// The packets for the CPU decoder, in order, and which of its frames were already given.
    mutating func takeOver() -> (packets: [Packet], alreadyGiven: AlreadyGiven) {
        let taken = packets.map(\.packet)
        let times = given.compactMap(\.pts)
        let known: AlreadyGiven = times.count == given.count ? .times(Set(times)) : .count(given.count)
        packets = []; given = []; bytes = 0
        return (taken, known)
    }

    /// The frames a takeover must not give again: by their times, or (when some had none) the first so many.
    enum AlreadyGiven {
        case times(Set<Int64>)
        case count(Int)

        /// Whether `frame` was given already (consuming it from the record).
        mutating func contains(_ frame: Frame) -> Bool {
            switch self {
            case .times(var set):
                guard let t = frame.bestEffortTimestamp, set.remove(t) != nil else { return false }
                self = .times(set)
                return true
            case .count(let n):
                guard n > 0 else { return false }
                self = .count(n - 1)
                return true
            }
        }
    }
}
