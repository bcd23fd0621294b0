import CFFmpeg

/// What moves between the stages of a transcode: packets and frames, reused from one unit to the next.
public protocol MediaUnit: AnyObject {
    init() throws
    /// Drops the payload, keeping the unit for reuse.
    func unref()
}

extension Frame: MediaUnit {}
extension Packet: MediaUnit {}

/// One component of a transcode, in the shape of FFmpeg's own send/receive API: send a unit in (nil:
/// the input ended), then receive units out until it says ``Pulled/needsInput`` (or, once ended,
/// ``Pulled/endOfStream``). Decoders, filter graphs, the colour pass and encoders all take this shape,
/// so one scheduler moves frames and packets between any of them.
public protocol Stage<Input, Output>: AnyObject {
    associatedtype Input: MediaUnit
    associatedtype Output: MediaUnit
    func send(_ unit: Input?) throws
    func receive(into unit: Output) throws -> Pulled<Void>
}

/// Encoding as a stage (frames in, packets out); a frame the encoder cannot take yet waits until its
/// packets have been received.
public final class EncodeStage: Stage {
    public let encoder: Encoder
    private var pending: Frame?
    private var pendingEnd = false

    public init(_ encoder: Encoder) { self.encoder = encoder }

    public func send(_ frame: Frame?) throws {
        guard try !encoder.send(frame) else { return }
        if let frame {
            let held = try Frame()
            try held.reference(frame)
            pending = held
        } else {
            pendingEnd = true
        }
    }

    public func receive(into packet: Packet) throws -> Pulled<Void> {
        let got = try encoder.receive(into: packet)
        guard case .needsInput = got, pending != nil || pendingEnd else { return got }
        let frame = pending
        pending = nil; pendingEnd = false
        try send(frame)
        return try encoder.receive(into: packet)
    }
}
