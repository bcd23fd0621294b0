import Effects
import MediaIO

/// One stage of a transcode with the unit it receives into: FFmpeg's send/receive loop, written once
/// for every kind of stage (decoders, filter graphs, the colour pass, audio conversion, encoders).
final class Link<Input: MediaUnit, Output: MediaUnit> {
    private let send: (Input?) throws -> Void
    private let receive: (Output) throws -> Pulled<Void>
    private let scratch: Output

    init<S: Stage>(_ stage: S) throws where S.Input == Input, S.Output == Output {
        send = stage.send
        receive = stage.receive
        scratch = try Output()
    }

    /// Sends `unit` (nil: the end) into the stage, then hands each unit it gives to `next`; at the end,
    /// once the stage is drained, hands on the end too (`next(nil)`).
    func push(_ unit: Input?, next: (Output?) throws -> Void) throws {
        try send(unit)
        while case .value = try receive(scratch) {
            try next(scratch)
            scratch.unref()
        }
        if unit == nil { try next(nil) }
    }
}

/// The video steps in order, each a ``FrameStage``; frames go in one end and come out of the last
/// stage, which is always a colour pass into the format `prepare` names (the encoder's).
final class VideoStages {
    private var stages: [any FrameStage] = []
    private var links: [Link<Frame, Frame>] = []

    /// `prepare` is called once, with the first frame's size, to open the encoder; it returns its format.
    /// `kernelBands` says, once the encoder is open, how many threads a colour pass may use.
    init(plan: StepPlan, inputTimeBase: Rational, inputFrameRate: Rational?, intermediateFormat: PixelFormat,
         intermediateColor: ColorProperties, name: String, onLog: @escaping (String) -> Void,
         kernelBands: @escaping () -> Int = { 1 }, prepare: @escaping ColorStage.Prepare) throws {
        for (i, segment) in plan.video.enumerated() {
            let previous = stages.last
            let tb: () -> Rational = { previous?.outputTimeBase ?? inputTimeBase }
            let rate: () -> Rational? = { previous == nil ? inputFrameRate : previous!.outputFrameRate }
            switch segment {
            case .filters(let specs):
                let stage = FilterStage(specs: specs, inputTimeBase: tb, inputFrameRate: rate, name: name)
                stages.append(stage)
                links.append(try Link(stage))
            case .frame(let op, _):
                let stage = try FrameOpStage(op, inputTimeBase: tb, inputFrameRate: rate)
                stages.append(stage)
                links.append(try Link(stage))
            case .color(let map, _):
                let last = i == plan.video.count - 1
                let stage = try ColorStage(map: map, inputTimeBase: tb, inputFrameRate: rate, onLog: onLog, kernelBands: kernelBands,
                                           prepare: last ? prepare : { _, _, _, _ in (intermediateFormat, intermediateColor) })
                stages.append(stage)
                links.append(try Link(stage))
            }
        }
    }

    /// Sends a frame (nil: the end, draining every stage in order) and hands each frame out of the last
    /// stage to `emit`, then nil once the last stage is drained.
    func push(_ frame: Frame?, emit: (Frame?) throws -> Void) throws { try push(frame, from: 0, emit: emit) }

    private func push(_ frame: Frame?, from index: Int, emit: (Frame?) throws -> Void) throws {
        guard index < links.count else { return try emit(frame) }
        try links[index].push(frame) { try push($0, from: index + 1, emit: emit) }
    }
}
