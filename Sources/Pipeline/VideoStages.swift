import CFFmpeg
import Effects
import MediaIO

/// A step frames pass through: send a frame (nil ends the input), then receive what comes out.
protocol FrameStage: AnyObject {
    func send(_ frame: Frame?) throws
    func receive(into frame: Frame) throws -> Pulled<Void>
    /// The time base of frames coming out (valid once a frame has come out).
    var outputTimeBase: AVRational { get }
    /// The frame rate of frames coming out, when known.
    var outputFrameRate: AVRational? { get }
}

/// A libavfilter stretch, built from the first frame it sees (its size, format and time base).
final class FilterStage: FrameStage {
    private let specs: [FilterSpec]
    private let inputTimeBase: () -> AVRational
    private let inputFrameRate: () -> AVRational?
    private let name: String
    private var graph: FilterGraph?
    private var source: FilterGraph.Node?
    private var sink: FilterGraph.Node?
    private var ended = false

    init(specs: [FilterSpec], inputTimeBase: @escaping () -> AVRational, inputFrameRate: @escaping () -> AVRational?, name: String) {
        self.specs = specs; self.inputTimeBase = inputTimeBase; self.inputFrameRate = inputFrameRate; self.name = name
    }

    func send(_ frame: Frame?) throws {
        if graph == nil {
            guard let frame else { ended = true; return }
            let g = try FilterGraph(name: name)
            let src = try g.addVideoSource(width: frame.width, height: frame.height, format: frame.pixelFormat, timeBase: inputTimeBase(),
                                           sampleAspectRatio: frame.pointer.pointee.sample_aspect_ratio,
                                           frameRate: inputFrameRate() ?? AVRational(num: 0, den: 1))
            let last = try g.chain(specs, after: src)
            let snk = try g.addSink()
            try g.link(last, to: snk)
            try g.configure()
            graph = g; source = src; sink = snk
        }
        try graph!.push(frame, into: source!)
    }

    func receive(into frame: Frame) throws -> Pulled<Void> {
        guard let graph, let sink else { return ended ? .endOfStream : .needsInput }
        return try graph.pull(sink, into: frame)
    }

    var outputTimeBase: AVRational { sink.map { graph!.timeBase(of: $0) } ?? inputTimeBase() }
    var outputFrameRate: AVRational? {
        guard let sink, let graph else { return inputFrameRate() }
        let r = graph.frameRate(of: sink)
        return r.num > 0 && r.den > 0 ? r : inputFrameRate()
    }
}

/// A fused colour pass (or a plain conversion) into the encoder's format; one frame out per frame in.
/// Its size and format are settled by the first frame (`prepare` says the format for a size).
final class ColorStage: FrameStage {
    typealias Prepare = (_ width: Int, _ height: Int, _ timeBase: AVRational, _ frameRate: AVRational?) throws -> (AVPixelFormat, ColorProperties)
    private let map: PixelMap?
    private let prepare: Prepare
    private let onLog: (String) -> Void
    private let inputTimeBase: () -> AVRational
    private let inputFrameRate: () -> AVRational?
    private var stage: VideoEffectStage?
    private var pending: Frame?
    private var ended = false
    private let held: Frame

    init(map: PixelMap?, inputTimeBase: @escaping () -> AVRational, inputFrameRate: @escaping () -> AVRational?,
         onLog: @escaping (String) -> Void, prepare: @escaping Prepare) throws {
        self.map = map; self.prepare = prepare; self.onLog = onLog
        self.inputTimeBase = inputTimeBase; self.inputFrameRate = inputFrameRate
        held = try Frame()
    }

    func send(_ frame: Frame?) throws {
        guard let frame else { ended = true; return }
        if stage == nil {
            let tb = inputTimeBase()
            // Subsampled formats need sizes that are multiples of the subsampling: round down, once.
            let (format, color) = try prepare(frame.width, frame.height, tb, inputFrameRate())
            var sx: Int32 = 0, sy: Int32 = 0
            av_pix_fmt_get_chroma_sub_sample(format, &sx, &sy)
            let w = frame.width & ~((1 << Int(sx)) - 1), h = frame.height & ~((1 << Int(sy)) - 1)
            guard w > 0, h > 0 else { throw MediaError.noFramesDecoded("a \(frame.width)x\(frame.height) picture") }
            if w != frame.width || h != frame.height {
                onLog("note: \(frame.width)x\(frame.height) is encoded as \(w)x\(h) (4:2:x formats need even sizes)")
            }
            stage = try VideoEffectStage(map: map, width: w, height: h, format: format, outputColor: color)
        }
        let out = try stage!.process(frame)
        held.unref()
        try check(av_frame_ref(held.pointer, out.pointer), "av_frame_ref")
        held.pts = frame.pts
        held.duration = frame.duration
        held.pointer.pointee.pict_type = AV_PICTURE_TYPE_NONE
        held.pointer.pointee.interlaced_frame = frame.pointer.pointee.interlaced_frame
        held.pointer.pointee.top_field_first = frame.pointer.pointee.top_field_first
        pending = held
    }

    func receive(into frame: Frame) throws -> Pulled<Void> {
        guard let p = pending else { return ended ? .endOfStream : .needsInput }
        pending = nil
        av_frame_move_ref(frame.pointer, p.pointer)
        return .value(())
    }

    var outputTimeBase: AVRational { inputTimeBase() }
    var outputFrameRate: AVRational? { inputFrameRate() }
}

/// The video steps in order; frames go in one end and come out of the last stage, which is
/// always a colour pass in the encoder's format.
final class VideoStages {
    private var stages: [any FrameStage] = []
    private var scratch: [Frame] = []

    /// `prepare` is called once, with the first frame's size, to open the encoder; it returns its format.
    init(plan: StepPlan, inputTimeBase: AVRational, inputFrameRate: AVRational?, intermediateFormat: AVPixelFormat,
         intermediateColor: ColorProperties, name: String, onLog: @escaping (String) -> Void, prepare: @escaping ColorStage.Prepare) throws {
        for (i, segment) in plan.video.enumerated() {
            let previous = stages.last
            let tb: () -> AVRational = { previous?.outputTimeBase ?? inputTimeBase }
            let rate: () -> AVRational? = { previous == nil ? inputFrameRate : previous!.outputFrameRate }
            switch segment {
            case .filters(let specs):
                stages.append(FilterStage(specs: specs, inputTimeBase: tb, inputFrameRate: rate, name: name))
            case .color(let map, _):
                let last = i == plan.video.count - 1
                stages.append(try ColorStage(map: map, inputTimeBase: tb, inputFrameRate: rate, onLog: onLog,
                                             prepare: last ? prepare : { _, _, _, _ in (intermediateFormat, intermediateColor) }))
            }
            scratch.append(try Frame())
        }
    }

    /// Sends a frame (nil: the end, draining every stage in order) and hands each frame out of the last stage to `emit`.
    func push(_ frame: Frame?, emit: (Frame) throws -> Void) throws {
        try send(frame, to: 0, emit: emit)
    }

    private func send(_ frame: Frame?, to index: Int, emit: (Frame) throws -> Void) throws {
        let stage = stages[index]
        try stage.send(frame)
        let out = scratch[index]
        while case .value = try stage.receive(into: out) {
            if index + 1 < stages.count { try send(out, to: index + 1, emit: emit) } else { try emit(out) }
            out.unref()
        }
        if frame == nil, index + 1 < stages.count { try send(nil, to: index + 1, emit: emit) }
    }
}
