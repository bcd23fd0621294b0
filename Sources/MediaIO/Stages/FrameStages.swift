import CFFmpeg
import Effects

/// A stage that takes frames and gives frames, and says what time base and rate they leave with.
public protocol FrameStage: Stage where Input == Frame, Output == Frame {
    /// The time base of frames coming out (valid once a frame has come out).
    var outputTimeBase: Rational { get }
    /// The frame rate of frames coming out, when known.
    var outputFrameRate: Rational? { get }
}

/// A libavfilter stretch, built from the first frame it sees (its size, format and time base).
public final class FilterStage: FrameStage {
    private let specs: [FilterSpec]
    private let inputTimeBase: () -> Rational
    private let inputFrameRate: () -> Rational?
    private let name: String
    private var graph: FilterGraph?
    private var source: FilterGraph.Node?
    private var sink: FilterGraph.Node?
    private var ended = false
    /// The graph's output ended before its input (a trim's end): frames sent after it are dropped, as
    /// libavfilter would keep them queued at the source until the graph is freed.
    private var closed = false

    /// The time base and rate are asked for when the first frame arrives (the stage before may set them then).
    public init(specs: [FilterSpec], inputTimeBase: @escaping () -> Rational, inputFrameRate: @escaping () -> Rational?, name: String) {
        self.specs = specs; self.inputTimeBase = inputTimeBase; self.inputFrameRate = inputFrameRate; self.name = name
    }

    public func send(_ frame: Frame?) throws {
        if closed { return }
        if graph == nil {
            guard let frame else { ended = true; return }
            let g = try FilterGraph(name: name)
            let src = try g.addVideoSource(width: frame.width, height: frame.height, format: frame.pixelFormat, timeBase: inputTimeBase().av,
                                           sampleAspectRatio: frame.pointer.pointee.sample_aspect_ratio,
                                           frameRate: inputFrameRate()?.av ?? AVRational(num: 0, den: 1))
            let last = try g.chain(specs, after: src)
            let snk = try g.addSink()
            try g.link(last, to: snk)
            try g.configure()
            graph = g; source = src; sink = snk
        }
        try graph!.push(frame, into: source!)
    }

    public func receive(into frame: Frame) throws -> Pulled<Void> {
        guard let graph, let sink else { return ended ? .endOfStream : .needsInput }
        let pulled = try graph.pull(sink, into: frame)
        if case .endOfStream = pulled { closed = true }
        return pulled
    }

    public var outputTimeBase: Rational { sink.map { Rational(graph!.timeBase(of: $0)) } ?? inputTimeBase() }
    public var outputFrameRate: Rational? {
        guard let sink, let graph else { return inputFrameRate() }
        let r = Rational(graph.frameRate(of: sink))
        return r.isPositive ? r : inputFrameRate()
    }
}

/// A fused colour pass (or a plain conversion) into a format and colour; one frame out per frame in.
/// Its size and format are settled by the first frame: `prepare` is told the frame's size, time base
/// and rate (the last colour pass opens the encoder there) and says the format and colour to deliver.
public final class ColorStage: FrameStage {
    public typealias Prepare = (_ width: Int, _ height: Int, _ timeBase: Rational, _ frameRate: Rational?) throws -> (PixelFormat, ColorProperties)
    private let map: PixelMap?
    private let prepare: Prepare
    private let onLog: (String) -> Void
    private let inputTimeBase: () -> Rational
    private let inputFrameRate: () -> Rational?
    private var stage: VideoEffectStage?
    private var handOff = OneFrameOut()
    private let held: Frame
    private let kernelBands: () -> Int

    /// `kernelBands` is asked once, after `prepare` (which opens the encoder): the threads the fused
    /// kernel may spread a frame over.
    public init(map: PixelMap?, inputTimeBase: @escaping () -> Rational, inputFrameRate: @escaping () -> Rational?,
                onLog: @escaping (String) -> Void, kernelBands: @escaping () -> Int = { 1 }, prepare: @escaping Prepare) throws {
        self.map = map; self.prepare = prepare; self.onLog = onLog; self.kernelBands = kernelBands
        self.inputTimeBase = inputTimeBase; self.inputFrameRate = inputFrameRate
        held = try Frame()
    }

    public func send(_ frame: Frame?) throws {
        guard let frame else { handOff.ended = true; return }
        if stage == nil {
            // Subsampled formats need sizes that are multiples of the subsampling: round down, once.
            let (format, color) = try prepare(frame.width, frame.height, inputTimeBase(), inputFrameRate())
            let (w, h) = format.fitting(width: frame.width, height: frame.height)
            guard w > 0, h > 0 else { throw MediaError.noFramesDecoded("a \(frame.width)x\(frame.height) picture") }
            if w != frame.width || h != frame.height {
                onLog("note: \(frame.width)x\(frame.height) is encoded as \(w)x\(h) (4:2:x formats need even sizes)")
            }
            stage = try VideoEffectStage(map: map, width: w, height: h, format: format.av, outputColor: color, kernelBands: kernelBands())
        }
        let out = try stage!.process(frame)
        try held.reference(out)
        held.pts = frame.pts
        held.duration = frame.duration
        held.pointer.pointee.pict_type = AV_PICTURE_TYPE_NONE
        held.pointer.pointee.interlaced_frame = frame.pointer.pointee.interlaced_frame
        held.pointer.pointee.top_field_first = frame.pointer.pointee.top_field_first
        handOff.pending = held
    }

    public func receive(into frame: Frame) throws -> Pulled<Void> { handOff.receive(into: frame) }

    public var outputTimeBase: Rational { inputTimeBase() }
    public var outputFrameRate: Rational? { inputFrameRate() }
}

/// What a stage that gives one frame per frame in holds between its send and its receive.
struct OneFrameOut {
    var pending: Frame?
    var ended = false

    /// Moves the pending frame into `frame`; else says whether more input is needed or the stream ended.
    mutating func receive(into frame: Frame) -> Pulled<Void> {
        guard let p = pending else { return ended ? .endOfStream : .needsInput }
        pending = nil
        frame.take(p)
        return .value(())
    }
}
