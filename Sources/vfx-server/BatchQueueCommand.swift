import ArgumentParser
import ErrorTaxonomy
import Foundation
import Jobs
import Queue
import VideoFXServer

/// What `vfx batch --database` hands `vfx-server batch-queue`: the planned items and how to run them.
struct QueuedBatchSpec: Codable {
    var items: [BatchItem]
    /// Tries after the first for an item that fails for a transient reason.
    var retries: Int
}

/// `vfx-server batch-queue`: queues a planned batch in PostgreSQL as one fanned-out prediction (a task
/// per item, on the workers' shared file system) and, unless `--detach`, follows it, writing the
/// batch's events as JSON lines on standard output (`vfx batch` draws them as it draws its own) and the
/// report last. Not a user command: `vfx batch --database` runs it.
struct BatchQueue: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "vfx-server batch-queue", shouldDisplay: false)

    @OptionGroup var cluster: ClusterOptions
    @Option(help: "The planned batch (JSON).") var spec: String
    @Flag(help: "Return once the items are queued.") var detach = false

    func run() async throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: spec))
        let batch = try JSONDecoder().decode(QueuedBatchSpec.self, from: data)
        var options = cluster
        options.maxAttempts = batch.retries + 1
        let detach = self.detach
        try await QueueCommand.withQueue(options) { queue in
            let id = "batch-" + UUID().uuidString.lowercased()
            let job = try LocalBatch.jobJSON(batch.items.map(\.recipe))
            let prediction = #"{"id":"\#(id)","input":{},"logs":"","status":"starting"}"#
            guard case .created = try await queue.submit(id: id, status: "starting", prediction: prediction, job: job, items: batch.items.count) else {
                throw ValidationError("the queue refused the batch (full: --max-queued)")
            }
            emit(["queued": .string(id)])
            if detach { return }
            try await follow(queue, id: id, items: batch.items)
        }
    }

    /// Polls the items until every one ended, emitting the batch's events; the report last.
    private func follow(_ queue: TaskQueue, id: String, items: [BatchItem]) async throws {
        let started = Date()
        var seen = [String](repeating: "queued", count: items.count)
        var reports = items.map { ItemReport(input: $0.recipe.input, output: $0.recipe.output, status: .notStarted, error: nil, frames: 0,
                                              seconds: 0, encoder: nil, attempts: 0) }
        var progress = BatchProgress(total: items.count)
        while true {
            guard let (_, tasks) = try await queue.inspect(id: id) else { return }
            for (i, task) in tasks.enumerated() where i < items.count && task.state != seen[i] {
                if task.state == "running", seen[i] == "queued" { emitEvent(.started(index: i, items[i])) }
                seen[i] = task.state
                guard ["succeeded", "failed", "canceled"].contains(task.state) else { continue }
                let result = try await queue.itemResult(id: id, item: i).flatMap {
                    try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]
                } ?? [:]
                reports[i] = Self.report(items[i], task: task, result: result)
                emitEvent(.finished(index: i, reports[i]))
            }
            progress.succeeded = reports.filter { $0.status == .succeeded }.count
            progress.failed = reports.filter { $0.status == .failed }.count
            progress.running = seen.filter { $0 == "running" }.count
            progress.frames = reports.map(\.frames).reduce(0, +)
            progress.elapsed = Date().timeIntervalSince(started)
            emitEvent(.progress(progress))
            if seen.allSatisfy({ ["succeeded", "failed", "canceled"].contains($0) }) { break }
            try await Task.sleep(for: .milliseconds(500))
        }
        let report = BatchReport(items: reports)
        emit(["report": .string(String(decoding: try JSONEncoder().encode(report), as: UTF8.self))])
    }

    static func report(_ item: BatchItem, task: TaskQueue.TaskRow, result: [String: Any]) -> ItemReport {
        var r = ItemReport(input: item.recipe.input, output: item.recipe.output, status: .failed, error: nil, frames: 0, seconds: 0,
                           encoder: nil, attempts: task.attempts)
        let metrics = result["metrics"] as? [String: Any]
        switch task.state {
        case "succeeded":
            r.status = .succeeded
            r.frames = metrics?["frames"] as? Int ?? 0
            r.encoder = metrics?["encoder"] as? String
            r.seconds = metrics?["predict_time"] as? Double ?? 0
        case "canceled":
            r.status = .notStarted
            r.error = .init(category: .cancelled, message: "cancelled; no output written")
        default:
            let category = (result["error_category"] as? String).flatMap(ErrorCategory.init(rawValue:)) ?? .internal
            r.error = .init(category: category, message: result["error"] as? String ?? task.lastError ?? "failed")
        }
        return r
    }

    private func emitEvent(_ event: BatchEvent) {
        guard let data = try? JSONEncoder().encode(event) else { return }
        emit(["event": .string(String(decoding: data, as: UTF8.self))])
    }

    private func emit(_ line: [String: Line]) {
        guard let data = try? JSONEncoder().encode(line) else { return }
        FileHandle.standardOutput.write(data + Data("\n".utf8))
    }

    enum Line: Encodable {
        case string(String)
        func encode(to encoder: Encoder) throws {
            var c = encoder.singleValueContainer()
            if case .string(let s) = self { try c.encode(s) }
        }
    }
}
