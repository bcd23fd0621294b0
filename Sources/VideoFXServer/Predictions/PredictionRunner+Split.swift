import Foundation
import Jobs
import MediaIO
import Pipeline

/// The part a cluster's task plays in a split prediction (`--split-above`).
enum SplitRole: Sendable {
    /// The prediction's first task: plans it when its video runs longer than `above` seconds (then
    /// ``PredictionSplit`` ends the run), else runs it whole.
    case plan(above: Double, chunkSeconds: Double)
    /// Encodes one window of the video; `keep` takes the chunk's file and result before its folder goes.
    case chunk(FrameWindow, keep: @Sendable (_ path: String, _ result: ProcessResult) async throws -> Void)
    /// Joins the chunks `parts` writes into the given folder, with the input's audio, and delivers the output.
    case stitch(parts: @Sendable (_ folder: String) async throws -> [Stitch.Part])
}

/// Not a failure: the prediction's video was planned into chunks, which go on as tasks of their own.
struct PredictionSplit: Error {
    let plan: SplitPlan
}

/// A chunk task's spec: its place in its prediction's plan.
struct ChunkSpec: Codable, Sendable {
    var chunk: SplitPlan.Chunk
    var count: Int
    var label: String { chunk.label(of: count) }
}

extension PredictionRunner {
    /// Plans `request`'s video into chunks in a job process; nil when it runs whole (saying why in the
    /// log when its length alone did not decide it).
    func planSplit(_ request: ProcessRequest, above: Double, seconds: Double, resources: FetchedResources, folder: String,
                   work: PredictionWork) async throws -> SplitPlan? {
        var planning = request
        planning.output = folder + "/split-plan.json"
        _ = try await runJob(planning, resources: resources.files, folder: folder, work: work,
                             split: .plan(chunkSeconds: seconds, aboveSeconds: above))
        let outcome = try JSONDecoder().decode(SplitPlan.Outcome.self, from: Data(contentsOf: URL(fileURLWithPath: planning.output)))
        switch outcome {
        case .split(let plan): return plan
        case .unsplit(let reason):
            work.log.yield("note: running unsplit: \(reason)")
            return nil
        case .short: return nil
        }
    }
}
