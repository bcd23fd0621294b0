import Effects
import MediaIO
import Recipe

/// One stretch of the video chain: libavfilter filters, or consecutive colour steps fused into one kernel pass.
enum VideoSegment {
    case filters([FilterSpec])
    /// nil: only conversion to the encoder's format.
    case color(PixelMap?, steps: [String])
    /// A kernel applied to each frame in place (grain).
    case frame(FrameOp, step: String)
}

/// How a recipe's steps run for one input: the video segments (the last always a colour pass that
/// also converts for the encoder), the audio filters that keep sound in step, and the final shape.
struct StepPlan {
    var video: [VideoSegment]
    var audio: [FilterSpec]
    var shape: StreamShape

    /// For logs: "fused colour pass (posterize, sepia) | libavfilter (scale, setsar)".
    var summary: String {
        video.compactMap { segment -> String? in
            switch segment {
            case .filters(let specs): return "libavfilter (\(specs.map(\.name).joined(separator: ", ")))"
            case .color(_, let steps): return steps.isEmpty ? nil : "fused colour pass (\(steps.joined(separator: ", ")))"
            case .frame(_, let step): return "frame kernel (\(step))"
            }
        }.joined(separator: " | ")
    }
}

/// Turns resolved steps and what the input looks like into a ``StepPlan``.
enum Planner {
    static func plan(_ steps: [ResolvedStep], shape start: StreamShape, resources: ResourceReader) throws -> StepPlan {
        var shape = start
        var video: [VideoSegment] = [], audio: [FilterSpec] = []
        var pendingOps: [ColorOp] = [], pendingNames: [String] = []
        func flushColor() {
            guard !pendingNames.isEmpty else { return }
            video.append(.color(ColorComposer.compose(pendingOps), steps: pendingNames))
            pendingOps = []; pendingNames = []
        }
        for step in steps {
            switch step.definition.lowering {
            case .color(let lower):
                pendingOps += try lower(step.parameters, resources)
                pendingNames.append(step.name)
            case .filter(let lower):
                flushColor()
                let fragment = try lower(step.parameters, &shape)
                let specs = fragment.video.map(Self.spec)
                if case .filters(let previous)? = video.last { video[video.count - 1] = .filters(previous + specs) } else {
                    video.append(.filters(specs))
                }
                audio += fragment.audio.map(Self.spec)
            case .frame(let lower):
                flushColor()
                video.append(.frame(try lower(step.parameters), step: step.name))
            }
        }
        flushColor()
        if case .color? = video.last {} else { video.append(.color(nil, steps: [])) }
        return StepPlan(video: video, audio: audio, shape: shape)
    }

    static func spec(_ node: FilterNode) -> FilterSpec { FilterSpec(node.name, node.options) }
}
