import CFFmpeg
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import MediaIO
import Recipe

/// Renders one frame of a recipe to a PNG, alone or beside the original, so a look can be tried in a second.
public struct Preview {
    public var input: String
    /// A `.png` path.
    public var output: String
    public var steps: [ChainStep]
    /// Seconds into the output's timeline.
    public var at: Double = 0
    /// The original (left) beside the result (right).
    public var sideBySide = false
    public var resources: ResourceReader = LocalResources.read

    public init(input: String, output: String, steps: [ChainStep]) {
        self.input = input; self.output = output; self.steps = steps
    }

    /// What was written.
    public struct Result: Sendable, Equatable {
        public var width: Int
        public var height: Int
        /// The output time of the frame shown, in seconds.
        public var time: Double
    }

    /// Writes the PNG; errors name the input or output as the user gave them.
    public func render() throws -> Result {
        do { return try renderUnlabelled() } catch { throw JobFailure(input: input, output: output, underlying: error) }
    }

    private func renderUnlabelled() throws -> Result {
        guard output.lowercased().hasSuffix(".png") else { throw MediaError.unsupportedPreviewFormat(output) }
        guard at.isFinite, at >= 0 else { throw RecipeError.badParameter(step: "preview", parameter: "at", value: "\(at)", reason: "must be 0 or more seconds") }
        let resolved = try Chain.resolve(steps)
        let file = try InputFile(url: try InputLocation.resolve(input), name: input)
        let index = try file.bestVideoStream()
        let st = file.stream(index)
        let par = st.parameters.pointee
        let (shape, sourceRate, _) = file.plannedShape(stream: index)
        let plan = try Planner.plan(resolved, shape: shape, resources: resources)
        // Steps that move frames in time map output times to other source times: read from the start for them.
        let retimed = resolved.contains { $0.definition.movesTime }
        if !retimed && at > 0 { try? file.seek(to: max(0, at - 0.5)) }
        let decoder = try Decoder(input: file, stream: index)
        var color = ColorProperties()
        color.primaries = par.color_primaries; color.transfer = par.color_trc
        color.matrix = VideoEffectStage.matrix(for: par.color_space, height: Int(par.height))
        color.range = AVCOL_RANGE_JPEG
        var tb = st.pointee.time_base
        let stages = try VideoStages(plan: plan, inputTimeBase: st.pointee.time_base, inputFrameRate: sourceRate,
                                     intermediateFormat: AV_PIX_FMT_YUV444P, intermediateColor: color, name: input, onLog: { _ in },
                                     prepare: { _, _, timeBase, _ in tb = timeBase; return (AV_PIX_FMT_YUV444P, color) })
        let start = file.startTime(of: [index])
        let offset = av_rescale_q(start, AVRational(num: 1, den: Int32(AV_TIME_BASE)), st.pointee.time_base)
        let packet = try Packet(), frame = try Frame()
        let before = try Frame(), after = try Frame()
        var found = false, shownTime = 0.0
        func emit(_ f: Frame) throws {
            guard !found else { return }
            after.unref()
            try check(av_frame_ref(after.pointer, f.pointer), "av_frame_ref")
            shownTime = Double(f.pts) * av_q2d(tb)
            if shownTime + 1e-6 >= at { found = true }
        }
        func drain() throws {
            while !found, case .value = try decoder.receive(into: frame) {
                frame.pts = frame.pointer.pointee.best_effort_timestamp == vfx_nopts() ? 0 : frame.pointer.pointee.best_effort_timestamp - offset
                before.unref()
                try check(av_frame_ref(before.pointer, frame.pointer), "av_frame_ref")
                try stages.push(frame, emit: emit)
                frame.unref()
            }
        }
        while !found {
            switch try file.read(into: packet) {
            case .packet:
                defer { packet.unref() }
                if packet.streamIndex == index {
                    if case .corrupt = try decoder.send(packet) { continue }
                    try drain()
                }
                continue
            case .endOfFile, .corrupt: break
            }
            break
        }
        if !found {
            _ = try decoder.send(nil)
            try drain()
            if !found { try stages.push(nil, emit: emit) }
        }
        guard after.width > 0 else { throw MediaError.noFramesFromSteps(input: input, steps: Chain.text(steps)) }
        var picture = try StillImage.rgb(after)
        if sideBySide {
            // The decoded source frame that produced the result, on the left (each at its own size, top-aligned).
            let original = try StillImage.rgb(before)
            picture = try StillImage.sideBySide(original, picture)
        }
        let bytes = try StillImage.png(picture, name: output)
        let temp = try Runner.temporaryPath(for: output)
        guard let out = fopen(temp, "wb") else { throw MediaError.outputNotWritable(path: output, reason: String(cString: strerror(errno))) }
        let n = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, out) }
        fclose(out)
        guard n == bytes.count, rename(temp, output) == 0 else {
            unlink(temp)
            throw MediaError.outputNotWritable(path: output, reason: String(cString: strerror(errno)))
        }
        return Result(width: picture.width, height: picture.height, time: shownTime)
    }
}
