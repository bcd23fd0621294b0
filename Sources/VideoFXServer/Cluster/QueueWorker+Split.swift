import Foundation
import Jobs
import MediaIO
import NIOCore
import Pipeline
import Queue
import Synchronization

// A split prediction (`--split-above`): its first task plans the video into chunks at keyframes and
// hands them over as tasks any worker takes; each chunk's encoded video waits in PostgreSQL; the stitch
// task, runnable once the last chunk succeeded, joins them with the audio processed once and ends the
// prediction. Progress is frames done over all frames, in the prediction's metrics as it runs.
extension QueueWorker {
    /// The part `lease` plays in a split prediction, if any.
    func splitRole(_ lease: TaskLease, job: PredictionJob) -> SplitRole? {
        switch lease.kind {
        case .stitch:
            let spec = lease.spec
            return .stitch(parts: { folder in try await self.fetchChunks(lease.predictionID, plan: spec, recipe: job.recipes.first, into: folder) })
        case .job where configuration.splitAboveSeconds > 0 && !job.isBatch && job.local != true && job.recipes.count == 1:
            return .plan(above: configuration.splitAboveSeconds, chunkSeconds: configuration.splitChunkSeconds)
        default:
            return nil
        }
    }

    /// Ends the planning task and queues the chunks and the stitch.
    func handOff(_ plan: SplitPlan, lease: TaskLease, prediction: Prediction) async {
        var p = prediction
        let count = plan.chunks.count
        p.logs += "split into \(count) chunks of about \(configuration.splitChunkSeconds.fixed(0)) s at keyframes; any worker takes them\n"
        p.metrics = ["frames_done": .int(0), "total_frames": .int(plan.totalFrames)]
        let encoder = JSONEncoder()
        let chunks = plan.chunks.map { String(decoding: (try? encoder.encode(ChunkSpec(chunk: $0, count: count))) ?? Data(), as: UTF8.self) }
        let stitch = String(decoding: (try? encoder.encode(plan)) ?? Data(), as: UTF8.self)
        let body = PostgresPredictionStore.encode(p), logs = p.logs
        let written = await persist { try await self.queue.split(lease, chunks: chunks, stitch: stitch, prediction: body, logs: logs) } ?? false
        if !written { logger.warning("prediction \(lease.predictionID) was planned here, but its lease had moved on: nothing written") }
    }

    /// Writes the chunks of a split prediction from the database into `folder`, as the stitch reads them.
    func fetchChunks(_ id: String, plan spec: String?, recipe: Recipe?, into folder: String) async throws -> [Stitch.Part] {
        guard let spec, let plan = try? JSONDecoder().decode(SplitPlan.self, from: Data(spec.utf8)), let recipe else {
            throw ChildJobError("this stitch task's stored plan cannot be read by this vfx", category: .internal)
        }
        let ext = (recipe.output as NSString).pathExtension
        var parts: [Stitch.Part] = []
        for chunk in plan.chunks {
            let label = chunk.label(of: plan.chunks.count)
            guard let data = try await queue.chunk(of: id, index: chunk.index) else {
                throw ChildJobError("\(label): its encoded video is missing from the database", category: .internal)
            }
            let path = folder + "/chunk-\(chunk.index + 1)." + ext
            guard FileManager.default.createFile(atPath: path, contents: Data(data.readableBytesView)) else {
                throw MediaError.outputNotWritable(path: path, reason: "could not write the chunk")
            }
            parts.append(Stitch.Part(path: path, frames: chunk.frames, label: label, firstPts: chunk.firstPts, timeBase: plan.timeBase))
        }
        return parts
    }

    /// A stitch's metrics: the chunks' encoder and video stream with the stitch's frames and audio.
    func stitchMetrics(_ produced: [String: JSONValue], id: String) async -> [String: JSONValue] {
        guard produced["encoder"] == .string("copy"), let results = try? await queue.chunkResults(of: id),
              let first = results.first.flatMap({ $0 }).flatMap({ try? JSONDecoder().decode([String: JSONValue].self, from: Data($0.utf8)) }),
              case .object(let chunk)? = first["metrics"] else { return produced }
        var m = produced
        m["encoder"] = chunk["encoder"]
        if case .array(let video)? = chunk["streams"], case .array(let audio)? = produced["streams"] { m["streams"] = .array(Array(video.prefix(1)) + audio) }
        m["chunks"] = .int(results.count)
        m["frames_done"] = produced["frames"]
        m["total_frames"] = produced["frames"]
        return m
    }

    func executeChunk(_ lease: TaskLease, cancellation: CancellationFlag, lost: CancellationFlag) async {
        let index = lease.item ?? 0
        guard let row = try? await queue.prediction(id: lease.predictionID),
              let prediction = try? PostgresPredictionStore.decode(row.prediction),
              let job = try? JSONDecoder().decode(PredictionJob.self, from: Data(row.job.utf8)), !job.recipes.isEmpty,
              let spec = lease.spec.flatMap({ try? JSONDecoder().decode(ChunkSpec.self, from: Data($0.utf8)) }) else {
            _ = try? await queue.writeItem(lease, state: "failed", result: Self.failure("this chunk's stored job cannot be read by this vfx"),
                                           logs: "", compose: { _, _, _ in nil })
            return
        }
        let composer = TaskComposer(job: job, hooks: Webhooks(url: prediction.webhook, selected: WebhookEvent.selected(by: prediction.webhook_events_filter)))
        let short = "chunk \(index + 1)/\(spec.count)"
        let frames = FrameCounter()
        let log = ItemLog(lease: lease, queue: queue, lost: lost, compose: composer.compose, frames: frames)
        await log.append((lease.attempt > 1 ? "\(short): attempt \(lease.attempt) of \(lease.maxAttempts)\n" : "") + "\(spec.label): started on \(id)")
        guard await log.flush() else { return }
        if row.cancelRequested || ["succeeded", "failed", "canceled"].contains(row.status) { cancellation.cancel() }

        let (lines, continuation) = AsyncStream<String>.makeStream()
        let logging = Task { for await line in lines { await log.append("\(short): " + line) } }
        let kept = Mutex<(data: ByteBuffer, result: ProcessResult)?>(nil)
        let limit = configuration.maxStoredOutputBytes ?? ServerConfiguration.defaultMaxStoredOutputBytes
        var work = PredictionWork(id: lease.predictionID, job: job, cancellation: cancellation, log: continuation)
        work.attempt = "\(lease.predictionID)-c\(index + 1)-a\(lease.attempt)"
        work.onFrames = { frames.set($0) }
        work.split = .chunk(spec.chunk.window, keep: { path, result in
            let data = try Data(contentsOf: URL(fileURLWithPath: path))
            guard data.count <= limit else {
                throw OutputDelivery.UploadError(url: "the database", why: "the chunk is \(data.count >> 20) MiB, over the \(limit >> 20) MiB a "
                                                 + "cluster keeps in PostgreSQL (--max-stored-output-mib); split in shorter chunks (--split-chunk-seconds)",
                                                 category: .badMedia)
            }
            kept.withLock { $0 = (ByteBuffer(bytes: data), result) }
        })
        var state = "succeeded", result = "{}", chunk: ByteBuffer?
        do {
            try ChunkFault.check(chunk: index, attempt: lease.attempt)
            _ = try await runner.run(work)
            guard let (data, produced) = kept.withLock({ $0 }) else { throw CancellationError() }
            continuation.yield("succeeded, \(produced.framesWritten) frames")
            result = Self.json(["metrics": .object(PredictionRunner.resultMetrics(produced))])
            chunk = data
            frames.set(produced.framesWritten)
        } catch {
            guard let ending = await ending(error, lease: lease, cancellation: cancellation, prefix: "", continuation: continuation,
                                            logging: logging, log: log) else { return }
            (state, result) = ending
        }
        continuation.finish()
        await logging.value
        if lost.isCancelled { return }
        let logs = await log.text, finalState = state, finalResult = result, data = chunk, done = frames.value
        let written = await persist {
            try await self.queue.writeItem(lease, state: finalState, result: finalResult, logs: logs, framesDone: done, chunk: data,
                                           compose: composer.compose)
        } ?? false
        if !written { logger.warning("chunk \(index + 1) of prediction \(lease.predictionID) ended here, but its lease had moved on: nothing written") }
    }
}

/// The latest frame count a chunk's engine reported.
final class FrameCounter: Sendable {
    private let frames = Mutex(0)
    func set(_ n: Int) { frames.withLock { $0 = n } }
    var value: Int { frames.withLock { $0 } }
}

extension TaskComposer {
    /// A split prediction from its chunks: the planning log then each chunk's, in order; progress as
    /// frames done over all frames; failed as soon as a chunk fails for good (naming it and its time
    /// range); once every chunk succeeded, the stitch task may run.
    func composeChunks(_ json: String, _ tasks: [ItemState]) throws -> ItemComposition? {
        var p = try PostgresPredictionStore.decode(json)
        let chunks = tasks.filter { $0.kind == .chunk }
        let specs = chunks.map { $0.spec.flatMap { try? JSONDecoder().decode(ChunkSpec.self, from: Data($0.utf8)) } }
        p.logs = tasks.filter { $0.kind == .job }.map(\.logs).joined() + chunks.map(\.logs).joined()
        let total = specs.reduce(0) { $0 + ($1?.chunk.frames ?? 0) }
        let done = zip(chunks, specs).reduce(0) { sum, pair in
            let planned = pair.1?.chunk.frames ?? 0
            return sum + (pair.0.state == "succeeded" ? planned : min(pair.0.framesDone, planned))
        }
        var metrics = p.metrics ?? [:]
        metrics["frames_done"] = .int(done)
        metrics["total_frames"] = .int(total)
        p.metrics = metrics
        if let i = chunks.firstIndex(where: { $0.state == "failed" }) {
            let result = chunks[i].result.flatMap { try? JSONDecoder().decode([String: JSONValue].self, from: Data($0.utf8)) }
            p.status = .failed
            p.error = "\(specs[i]?.label ?? "chunk \(i + 1)"): " + (result?["error"]?.string ?? "failed")
            return finished(p, events: [.completed], stop: true)
        }
        let ended = chunks.allSatisfy { ["succeeded", "failed", "canceled"].contains($0.state) }
        if ended, chunks.contains(where: { $0.state == "canceled" }) {
            p.status = .canceled
            return finished(p, events: [.completed], stop: true)
        }
        let body = PostgresPredictionStore.encode(p)
        return ItemComposition(status: p.status.rawValue, prediction: body, events: hooks.events([.logs], body), stopSiblings: false,
                               releaseStitch: ended)
    }
}
