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
    /// Bounds on the input (the server's); checked before any frame is decoded.
    public var limits = MediaLimits.none
    public var inputOptions = InputOptions()
    /// What messages call the input (default: `input` as given).
    public var inputName: String?

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
        do { return try renderUnlabelled() } catch { throw JobFailure(input: inputName ?? input, output: output, underlying: error) }
    }

    private func renderUnlabelled() throws -> Result {
        guard output.lowercased().hasSuffix(".png") else { throw MediaError.unsupportedPreviewFormat(output) }
        guard at.isFinite, at >= 0 else { throw RecipeError.badParameter(step: "preview", parameter: "at", value: "\(at)", reason: "must be 0 or more seconds") }
        let resolved = try Chain.resolve(steps)
        let name = inputName ?? input
        let file = try InputFile(url: try InputLocation.resolve(input), name: name, options: inputOptions)
        let index = try file.bestVideoStream()
        let video = file.videoParameters(stream: index)
        try limits.check(width: video.width, height: video.height, duration: file.info(stream: index).duration ?? file.duration,
                         frames: nil, name: name)
        let (shape, sourceRate, _) = file.plannedShape(stream: index)
        let plan = try Planner.plan(resolved, shape: shape, resources: resources)
        // Steps that move frames in time map output times to other source times: read from the start for them.
        let retimed = resolved.contains { $0.definition.movesTime }
        if !retimed && at > 0 { try? file.seek(to: max(0, at - 0.5)) }
        let color = video.outputColor(height: video.height).fullRange
        var tb = video.timeBase
        let stages = try VideoStages(plan: plan, inputTimeBase: video.timeBase, inputFrameRate: sourceRate,
                                     intermediateFormat: .yuv444p, intermediateColor: color, name: name, onLog: { _ in },
                                     prepare: { _, _, timeBase, _ in tb = timeBase; return (.yuv444p, color) })
        let offset = Rational.microseconds.rescale(file.startTime(of: [index]), to: video.timeBase)
        let before = try Frame(), after = try Frame()
        var found = false, shownTime = 0.0
        // Frames flow demux -> decode -> steps until the first one at or after `at` comes out.
        func shown(_ f: Frame?) throws {
            guard let f, !found else { return }
            try after.reference(f)
            shownTime = tb.seconds(f.pts)
            if shownTime + 1e-6 >= at { found = true }
        }
        let decoder = try Decoder(input: file, stream: index)
        let decode = try Link(DecodeStage(decoder, onCorrupt: { _ in }))
        // Steps that keep time see only the frame shown: the ones before it, from the keyframe on, change
        // nothing on screen (a 4K frame seconds after a keyframe then costs decoding alone).
        var held = false, pushed = false
        func decoded(_ frame: Frame?) throws {
            guard !found else { return }
            if let frame {
                frame.pts = (frame.bestEffortTimestamp ?? offset) - offset
                try before.reference(frame)
                if !retimed, video.timeBase.seconds(frame.pts) + 1e-6 < at { held = true; return }
                pushed = true
            } else if held && !pushed {
                // `at` lies past the last frame: the last one is shown.
                let last = try Frame()
                try last.reference(before)
                try stages.push(last, emit: shown)
            }
            try stages.push(frame, emit: shown)
        }
        let packet = try Packet()
        reading: while !found {
            switch try file.read(into: packet) {
            case .packet:
                if packet.streamIndex == index {
                    // Frames well before `at` that nothing refers to are not even decoded.
                    if !retimed, let pts = packet.pts { decoder.skipsNonReferenceFrames = video.timeBase.seconds(pts - offset) < at - 0.25 }
                    try decode.push(packet, next: decoded)
                }
                packet.unref()
            case .endOfFile, .corrupt:
                try decode.push(nil, next: decoded)
                break reading
            }
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
