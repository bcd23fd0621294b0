#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MediaIO
import Pipeline

/// A piece of a split job run as a job of its own: how a cluster's workers share one long video.
public enum SplitWork: Sendable, Codable, Equatable {
    /// Decides whether to split: writes the ``SplitPlan/Outcome`` as JSON to the job's output path.
    case plan(chunkSeconds: Double, aboveSeconds: Double)
    /// Encodes this window of the video only (no audio: the stitch adds it).
    case chunk(FrameWindow)
    /// Joins these chunk files, in order, with the input's audio processed once; runs the job unsplit
    /// instead when a chunk does not hold what its plan says.
    case stitch([Stitch.Part])
}

extension JobSpec {
    /// Runs this job as a job process does: a preview, a piece of a split job, or the whole recipe.
    /// `request` is ``request`` (a child's) or the caller's own equivalent (a job run in-process).
    public func run(_ request: ProcessRequest, cancellation: CancellationFlag = CancellationFlag(),
                    onProgress: @escaping @Sendable (JobProgress) -> Void, onLog: @escaping @Sendable (String) -> Void) throws -> ProcessResult {
        if let preview { return try renderPreview(preview) }
        let runner = { (request: ProcessRequest) in
            Runner(request: request, cancellation: cancellation, onProgress: onProgress, onLog: onLog)
        }
        switch split {
        case .plan(let seconds, let above)?:
            let outcome = try SplitPlan.make(request, seconds: seconds, above: above, cancellation: cancellation)
            do {
                try JSONEncoder().encode(outcome).write(to: URL(fileURLWithPath: request.output))
            } catch {
                throw MediaError.outputNotWritable(path: request.output, reason: "\(error)")
            }
            return ProcessResult(output: request.output, framesDecoded: 0, framesWritten: 0, encoder: "", fallbackFrom: nil,
                                 audioStreams: 0, seconds: 0, framesPerSecond: 0, warnings: [])
        case .stitch(let parts)?:
            let started = Date()
            do {
                let stitched = try Stitch.join(parts, request: request, cancellation: cancellation, onLog: onLog)
                return ProcessResult(output: request.output, framesDecoded: 0, framesWritten: stitched.frames, encoder: "copy",
                                     fallbackFrom: nil, audioStreams: stitched.audio.count, seconds: Date().timeIntervalSince(started),
                                     framesPerSecond: 0, warnings: [], streams: stitched.audio)
            } catch let mismatch as Stitch.Mismatch {
                onLog("warning: \(mismatch); running unsplit instead")
                var whole = request
                whole.window = nil
                return try runner(whole).run()
            }
        case .chunk(let window)?:
            var chunk = request
            chunk.window = window
            return try runner(chunk).run()
        case nil:
            return try runner(request).run()
        }
    }
}
