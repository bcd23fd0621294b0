import CFFmpeg
import Effects
import Recipe

/// A kernel applied to each frame in place (a ``FrameOp``), keyed by the frame's time; one frame out
/// per frame in. 8-bit planar Y'CbCr and grey frames are changed where they are (made writable first);
/// any other format is converted to an 8-bit planar one first (the same chroma layout, else 4:4:4).
public final class FrameOpStage: FrameStage {
    private let op: FrameOp
    private let inputTimeBase: () -> Rational
    private let inputFrameRate: () -> Rational?
    private var handOff = OneFrameOut()
    private let held: Frame
    private let scaler = Scaler()
    /// Frames without a time are keyed by their place in the stream.
    private var count: Int64 = 0

    public init(_ op: FrameOp, inputTimeBase: @escaping () -> Rational, inputFrameRate: @escaping () -> Rational?) throws {
        self.op = op; self.inputTimeBase = inputTimeBase; self.inputFrameRate = inputFrameRate
        held = try Frame()
    }

    public func send(_ frame: Frame?) throws {
        guard let frame else { handOff.ended = true; return }
        let key = frame.pts == Timestamp.none ? count : frame.pts
        count += 1
        if let chroma = VideoEffectStage.planarYUV8(frame.pixelFormat) {
            try held.reference(frame)
            try check(av_frame_make_writable(held.pointer), "av_frame_make_writable")
            apply(to: held, key: key, chroma: chroma, planes: 3)
        } else if frame.pixelFormat == AV_PIX_FMT_GRAY8 {
            try held.reference(frame)
            try check(av_frame_make_writable(held.pointer), "av_frame_make_writable")
            apply(to: held, key: key, chroma: (0, 0), planes: 1)
        } else {
            let target = VideoEffectStage.eightBitPlanarCounterpart(of: frame.pixelFormat) ?? AV_PIX_FMT_YUV444P
            try held.allocateVideo(width: frame.width, height: frame.height, format: target)
            let matrix = VideoEffectStage.matrix(for: frame.pointer.pointee.colorspace, height: frame.height)
            let full = VideoEffectStage.isFullRange(frame)
            try scaler.scale(frame, into: held, sourceMatrix: matrix, sourceFullRange: full, destinationMatrix: matrix, destinationFullRange: full)
            try held.copyProperties(from: frame)
            held.pointer.pointee.colorspace = matrix
            held.pointer.pointee.color_range = full ? AVCOL_RANGE_JPEG : AVCOL_RANGE_MPEG
            apply(to: held, key: key, chroma: VideoEffectStage.planarYUV8(target) ?? (0, 0), planes: 3)
        }
        held.pts = frame.pts
        held.duration = frame.duration
        handOff.pending = held
    }

    private func apply(to frame: Frame, key: Int64, chroma: (x: Int, y: Int), planes: Int) {
        switch op {
        case .grain(let grain):
            for i in 0..<planes {
                let w = i == 0 ? frame.width : (frame.width + (1 << chroma.x) - 1) >> chroma.x
                let h = i == 0 ? frame.height : (frame.height + (1 << chroma.y) - 1) >> chroma.y
                if let plane = frame.plane(i, width: w, height: h) { grain.apply(to: plane, frame: key, planeIndex: i) }
            }
        }
    }

    public func receive(into frame: Frame) throws -> Pulled<Void> { handOff.receive(into: frame) }

    public var outputTimeBase: Rational { inputTimeBase() }
    public var outputFrameRate: Rational? { inputFrameRate() }
}
