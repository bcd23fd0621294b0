import AsyncHTTPClient
import Foundation
import Logging
import MediaIO
import Effects
import ErrorTaxonomy
import Jobs
import Pipeline
import Recipe
import Prometheus
import Synchronization

/// One prediction's job, as stored: a validated ``Recipe`` per video (its input the video's URL, its
/// output the file name to deliver), and how to run them. This, not the request's JSON, is what runs.
struct PredictionJob: Codable, Sendable {
    var recipes: [Recipe]
    /// A `videos` prediction: its output is a list, one entry per item, and items may retry.
    var isBatch: Bool
    var continueOnError: Bool
    var outputPrefix: String?
    /// Files on the workers' own (shared) file system, queued by `vfx batch --database`: read and written
    /// where the recipe says, not downloaded and delivered. Never set from the HTTP API.
    var local: Bool?

    /// A `vfx batch --database` job: each item's recipe with its input and output paths.
    init(localItems recipes: [Recipe]) {
        self.recipes = recipes
        isBatch = true
        continueOnError = true
        outputPrefix = nil
        local = true
    }

    /// One item of a `videos` job, run as a job of its own (a task of a fanned-out prediction).
    func item(_ index: Int) -> PredictionJob {
        var one = self
        one.recipes = [recipes[index]]
        one.isBatch = false
        return one
    }

    /// The job a validated input describes (`given`: the inputs the client named; the rest are defaults).
    init(input: [String: JSONValue], given: Set<String>, outputPrefix: String?) throws {
        let steps = try InputSchema.steps(input, given: given)
        let videos: [String]
        if case .array(let list)? = input["videos"] { videos = list.map { $0.string ?? "" }; isBatch = true } else {
            videos = [input["video"]?.string ?? ""]; isBatch = false
        }
        recipes = videos.map { InputSchema.recipe(input, steps: steps, video: $0, output: InputSchema.outputName(input)) }
        continueOnError = input["continue_on_error"] == .bool(true)
        self.outputPrefix = outputPrefix
    }
}

/// A job as it runs here: with its cancellation and where its log lines go.
struct PredictionWork: Sendable {
    let id: String
    let job: PredictionJob
    let cancellation: CancellationFlag
    /// Log lines, in the order the engine writes them.
    let log: AsyncStream<String>.Continuation
    /// Set on a cluster's attempt (`ID-a2`, `ID-i3-a1`): its output file, and so its upload, is named
    /// apart, so a late upload from a lost attempt never replaces the real one.
    var attempt: String?
    /// Set when this work is a piece of a split prediction (a cluster's tasks).
    var split: SplitRole?
    /// Frames done, as the engine reports them (a chunk's share of its prediction's progress).
    var onFrames: (@Sendable (Int) -> Void)?

    var recipes: [Recipe] { job.recipes }
    var isBatch: Bool { job.isBatch }
    var continueOnError: Bool { job.continueOnError }
    var outputPrefix: String? { job.outputPrefix }
}

/// Runs predictions: owns the slots and the engine. Downloads each input under the outbound policy,
/// runs the job (in a process of its own, or on a thread), retries an item that failed for a
/// transient reason as `vfx batch` does, and delivers the output.
final class PredictionRunner: Sendable {
    let configuration: ServerConfiguration
    let metrics: ServerMetrics
    let files: (any FileStorage)?
    private let previews: AsyncSemaphore
    let http: OutboundHTTP
    let logger = Logger(label: "vfx.predictions")
    private let downloads: AsyncSemaphore
    private let slots = Mutex(0)
    /// How `videos` items that fail for a transient reason are tried again (the batch's rule).
    let retry: RetryPolicy

    init(configuration: ServerConfiguration, metrics: ServerMetrics, retry: RetryPolicy = RetryPolicy(), files: (any FileStorage)? = nil) {
        self.files = files
        self.configuration = configuration
        self.metrics = metrics
        self.retry = retry
        http = OutboundHTTP(policy: OutboundPolicy(allowPrivate: configuration.allowPrivateURLs),
                            maxRedirects: configuration.maxRedirects)
        downloads = AsyncSemaphore(configuration.maxConcurrentDownloads, waiting: metrics.downloadsWaiting)
        previews = AsyncSemaphore(Self.previewSlots)
    }

    /// Whether every slot is taken.
    var busy: Bool { slots.withLock { $0 >= configuration.concurrency } }

    /// Takes a slot; false when all are taken.
    func reserveSlot() -> Bool {
        slots.withLock { used in
            guard used < configuration.concurrency else { return false }
            used += 1
            return true
        }
    }

    func releaseSlot() { slots.withLock { $0 -= 1 } }

    /// Runs one prediction from its input to its output (a URL, or one per item of `videos`) and the
    /// metrics the response shows; in a folder of its own, removed at the end.
    func run(_ work: PredictionWork) async throws -> (output: JSONValue, metrics: [String: JSONValue]) {
        try await inJobFolder { folder in try await run(work, folder: folder) }
    }

    /// Runs `body` with a folder of its own under the server's temporary directory, named by a random
    /// token (never by the client's id), removed when it ends.
    private func inJobFolder<T>(_ body: (String) async throws -> T) async throws -> T {
        let folder = URL(fileURLWithPath: configuration.temporaryDirectory).appendingPathComponent("vfx-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: folder) }
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        return try await body(folder)
    }

    private func run(_ work: PredictionWork, folder: String) async throws -> (output: JSONValue, metrics: [String: JSONValue]) {
        if work.job.local == true { return try await runLocal(work, folder: folder) }
        let fetcher = InputFetcher(http: http, configuration: configuration, files: files)
        // Every video of a prediction runs the same steps: their LUTs are fetched once.
        let resources = try await fetchResources(work.recipes.first?.steps ?? [], into: folder, fetcher: fetcher)
        if work.isBatch {
            let (outputs, items) = try await runItems(resources: resources, folder: folder, work: work, fetcher: fetcher)
            return (.array(outputs), ["items": .array(items)])
        }
        var downloaded = 0
        let (delivered, result) = try await processVideo(work.recipes[0], resources: resources,
                                                         folder: folder + "/item", work: work, fetcher: fetcher, downloaded: &downloaded)
        return (.string(delivered), Self.resultMetrics(result))
    }

    /// A local job (one item of `vfx batch --database`): the recipe's own paths, as `vfx batch` runs it.
    private func runLocal(_ work: PredictionWork, folder: String) async throws -> (output: JSONValue, metrics: [String: JSONValue]) {
        guard let recipe = work.recipes.first else { throw CancellationError() }
        var request = ProcessRequest(recipe: recipe)
        request.threads = configuration.threads
        request.limits = configuration.mediaLimits
        // LUTs named by a path are read by the job where the recipe says.
        var files: [String: String] = [:]
        for step in try Chain.resolve(recipe.steps) {
            for spec in step.definition.parameters where spec.type == .url {
                if let location = step.parameters.string(spec.name) { files[location] = location }
            }
        }
        let result = try await runJob(request, resources: files, folder: folder, work: work)
        return (.string(recipe.output), Self.resultMetrics(result))
    }

    /// Runs `body`, and again after the policy's wait while it fails for a transient reason.
    private func withRetries<T>(label: String, work: PredictionWork, _ body: () async throws -> T) async throws -> T {
        var attempt = 1
        while true {
            do { return try await body() } catch {
                guard !work.cancellation.isCancelled, let wait = retry.delay(after: error, attempt: attempt) else { throw error }
                work.log.yield("\(label): \(error); trying again in \(wait.fixed(1))s (attempt \(attempt + 1))")
                try await Task.sleep(for: .milliseconds(Int64(wait * 1000)))
                attempt += 1
            }
        }
    }

    /// Downloads what steps name by URL (LUT files) with the same policy, limits and slots as the video;
    /// the job reads only these bytes, never a path on this server.
    private func fetchResources(_ steps: [ChainStep], into folder: String, fetcher: InputFetcher) async throws -> FetchedResources {
        var fetched: [String: [UInt8]] = [:], files: [String: String] = [:]
        for (i, step) in try Chain.resolve(steps).enumerated() {
            for spec in step.definition.parameters where spec.type == .url {
                guard let location = step.parameters.string(spec.name), fetched[location] == nil else { continue }
                let path = folder + "/resource-\(i)"
                do {
                    _ = try await downloads.withPermit { try await fetcher.fetch(location, to: path) }
                    guard let data = FileManager.default.contents(atPath: path), data.count <= CubeLUT.maxBytes else {
                        throw RecipeError.resource(step: step.name, location: PredictionService.elided(location), reason: "larger than \(CubeLUT.maxBytes) bytes")
                    }
                    fetched[location] = [UInt8](data)
                    files[location] = path
                } catch let error as RecipeError { throw error } catch {
                    let reason = "\(error)".replacingOccurrences(of: "the input video", with: "the file")
                        .replacingOccurrences(of: "the input data: URL", with: "the data: URL")
                    throw RecipeError.resource(step: step.name, location: PredictionService.elided(location), reason: reason)
                }
            }
        }
        let resources = fetched
        return FetchedResources(files: files) { location in
            guard let bytes = resources[location] else {
                throw RecipeError.resource(step: "lut", location: location, reason: "was not fetched")
            }
            return bytes
        }
    }

    /// What steps' URLs gave: the bytes for an in-process job, the files for a job's child process.
    struct FetchedResources: Sendable {
        let files: [String: String]
        let read: ResourceReader
    }

    /// Downloads one video, runs the steps on it and delivers the result; `downloaded` counts bytes
    /// against the prediction's total (max_batch_input_bytes).
    private func processVideo(_ recipe: Recipe, resources: FetchedResources, folder: String, work: PredictionWork,
                              fetcher: InputFetcher, downloaded: inout Int) async throws -> (String, ProcessResult) {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let video = recipe.input
        let source = folder + "/input"
        let bytes = try await downloads.withPermit { try await fetcher.fetch(video, to: source) }
        metrics.downloadedBytes.increment(by: Int64(bytes))
        downloaded += bytes
        guard downloaded <= configuration.maxBatchInputBytes else {
            throw MediaError.limitExceeded(input: "the input videos", limit: "max_batch_input_bytes", value: "\(downloaded) bytes",
                                           maximum: "\(configuration.maxBatchInputBytes) bytes")
        }
        try Task.checkCancellation()
        // The recipe as it runs here: read from the download, written into this folder.
        var local = recipe
        local.input = source
        local.output = folder + "/" + Self.fileName(recipe.output, attempt: work.attempt)
        let output = local.output
        var request = localRequest(local, video: video, resources: resources)
        request.outputName = "the output video"
        request.threads = configuration.threads
        request.limits.maxOutputBytes = configuration.maxOutputBytes
        let piece: SplitWork?
        switch work.split {
        case .plan(let above, let seconds)?:
            if let plan = try await planSplit(request, above: above, seconds: seconds, resources: resources, folder: folder, work: work) {
                throw PredictionSplit(plan: plan)
            }
            piece = nil
        case .chunk(let window, let keep)?:
            let result = try await runJob(request, resources: resources.files, folder: folder, work: work, split: .chunk(window))
            try await keep(output, result)
            return ("", result)
        case .stitch(let parts)?: piece = .stitch(try await parts(folder))
        case nil: piece = nil
        }
        let result = try await runJob(request, resources: resources.files, folder: folder, work: work, split: piece)
        if let f = result.fallbackFrom { metrics.fallback(requested: f, used: result.encoder) }
        for s in result.streams {
            metrics.stream(kind: s.kind, decoder: s.decoder, decoderDevice: s.decoderDevice, encoder: s.encoder,
                                encoderDevice: s.encoderDevice)
        }
        metrics.fps.record(result.framesPerSecond)
        let delivered = try await OutputDelivery(http: http, configuration: configuration, metrics: metrics)
            .deliver(file: output, mimeType: try request.recipe.outputContainer().mimeType, prefix: work.outputPrefix)
        try Task.checkCancellation()
        return (delivered, result)
    }

    /// Renders one frame of `steps` on `video` (fetched as a prediction's is) to PNG bytes, in a job
    /// process, at most ``previewSlots`` at once beside the predictions.
    func preview(video: String, steps: [ChainStep], at: Double, compare: Bool) async throws -> Data {
        try await previews.withPermit { try await inJobFolder { folder in
            let fetcher = InputFetcher(http: http, configuration: configuration, files: files)
            let resources = try await fetchResources(steps, into: folder, fetcher: fetcher)
            let source = folder + "/input"
            _ = try await downloads.withPermit { try await fetcher.fetch(video, to: source) }
            var request = localRequest(Recipe(input: source, output: folder + "/preview.png", steps: steps), video: video, resources: resources)
            request.outputName = "the preview"
            let (_, log) = AsyncStream<String>.makeStream()
            defer { log.finish() }
            _ = try await runJob(request, resources: resources.files, folder: folder, id: "preview", cancellation: CancellationFlag(), log: log,
                                 preview: PreviewSpec(at: at, compare: compare))
            return try Data(contentsOf: URL(fileURLWithPath: request.output))
        } }
    }

    /// The request a job runs here on a download of the client's `video`: the fetched resources, only
    /// the media demuxers, the server's limits, and messages that name what the client sent (never this
    /// server's temporary files).
    private func localRequest(_ recipe: Recipe, video: String, resources: FetchedResources) -> ProcessRequest {
        var request = ProcessRequest(recipe: recipe)
        request.resources = resources.read
        request.inputOptions = .untrustedLocalFile
        request.inputName = "input video " + PredictionService.elided(video)
        request.limits = configuration.mediaLimits
        return request
    }

    /// Previews rendered at once: a few, so they answer quickly and never hold the predictions' slots.
    static let previewSlots = 2

    /// `output.mp4`, or `output-ID-a2.mp4` for a cluster's attempt.
    static func fileName(_ name: String, attempt: String?) -> String {
        guard let attempt, let dot = name.lastIndex(of: ".") else { return name }
        return name[..<dot] + "-" + attempt + name[dot...]
    }

    /// A finished job's metrics as the response shows them.
    static func resultMetrics(_ result: ProcessResult) -> [String: JSONValue] {
        var m: [String: JSONValue] = ["frames": .int(result.framesWritten), "fps": .double((result.framesPerSecond * 100).rounded() / 100),
                                      "encoder": .string(result.encoder)]
        if let f = result.fallbackFrom { m["requested_encoder"] = .string(f) }
        // Which decoder and encoder handled each stream, and where: a silent fallback to the CPU shows here.
        m["streams"] = .array(result.streams.map { s in
            .object(["kind": .string(s.kind), "decoder": .string(s.decoder), "decoder_device": .string(s.decoderDevice),
                     "encoder": .string(s.encoder), "encoder_device": .string(s.encoderDevice)])
        })
        return m
    }

    /// A `videos` prediction's items, one after another in its slot: their outputs in input order (null
    /// for an item that failed with continue_on_error) and each item's metrics or error.
    private func runItems(resources: FetchedResources, folder: String, work: PredictionWork,
                          fetcher: InputFetcher) async throws -> (outputs: [JSONValue], items: [JSONValue]) {
        var outputs: [JSONValue] = [], items: [JSONValue] = [], downloaded = 0
        for (i, recipe) in work.recipes.enumerated() {
            let label = "item \(i + 1)/\(work.recipes.count) (\(PredictionService.elided(recipe.input)))"
            work.log.yield("\(label): started")
            do {
                let (delivered, result) = try await withRetries(label: label, work: work) {
                    // A failed attempt's download does not count against the total.
                    var counted = downloaded
                    let done = try await processVideo(recipe, resources: resources, folder: folder + "/item-\(i)",
                                                      work: work, fetcher: fetcher, downloaded: &counted)
                    downloaded = counted
                    return done
                }
                outputs.append(.string(delivered))
                items.append(.object(Self.resultMetrics(result)))
                work.log.yield("\(label): succeeded, \(result.framesWritten) frames")
            } catch {
                if work.cancellation.isCancelled || error is CancellationError || (error as? MediaError) == .cancelled { throw error }
                guard work.continueOnError else { throw ItemFailure(label: label, underlying: error) }
                work.log.yield("\(label): failed: \(error)")
                outputs.append(.null)
                items.append(.object(["error": .string("\(error)"), "error_category": .string(ErrorCategory.of(error).rawValue)]))
            }
            try? FileManager.default.removeItem(atPath: folder + "/item-\(i)")
        }
        return (outputs, items)
    }

    /// Runs the blocking engine off the server's threads: in a child process of its own when the
    /// configuration names the binary (a crash or a limit then ends this job alone), else on a thread.
    func runJob(_ request: ProcessRequest, resources: [String: String], folder: String, work: PredictionWork,
                preview: PreviewSpec? = nil, split: SplitWork? = nil) async throws -> ProcessResult {
        try await runJob(request, resources: resources, folder: folder, id: work.id, cancellation: work.cancellation, log: work.log,
                         frames: work.onFrames, preview: preview, split: split)
    }

    private func runJob(_ request: ProcessRequest, resources: [String: String], folder: String, id: String,
                        cancellation flag: CancellationFlag, log lines: AsyncStream<String>.Continuation,
                        frames: (@Sendable (Int) -> Void)? = nil, preview: PreviewSpec? = nil,
                        split: SplitWork? = nil) async throws -> ProcessResult {
        // One ordered stream per prediction: a task per line would let lines overtake each other.
        let log: @Sendable (String) -> Void = { line in lines.yield(line) }
        let throttle = ProgressThrottle()
        let progress: @Sendable (JobProgress) -> Void = { p in
            frames?(p.framesDone)
            if throttle.due(final: p.framesDone == p.totalFrames) { log(p.line) }
        }
        // What a crashed job wrote on standard error goes to the operator's log, not to the client.
        let logger = self.logger
        let crashLog: @Sendable (String) -> Void = { stderr in
            guard !stderr.isEmpty else { return }
            logger.error("job process output before it ended: \(stderr.suffix(4096))", metadata: ["prediction_id": "\(id)"])
        }
        let isolated = configuration.jobExecutable.map { exe in
            IsolatedJob(executable: exe, environment: configuration.jobEnvironment.merging(["TMPDIR": folder]) { _, own in own })
        }
        let spec = {
            var spec = JobSpec(request, resources: resources, processLimits: configuration.jobLimits)
            spec.preview = preview
            spec.split = split
            return spec
        }()
        do {
            return try await withTaskCancellationHandler {
                try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<ProcessResult, Error>) in
                    WorkerThread.detach {
                        do {
                            if let isolated {
                                continuation.resume(returning: try isolated.run(spec, cancellation: flag, onProgress: progress, onLog: log,
                                                                                onCrash: crashLog))
                            } else {
                                continuation.resume(returning: try spec.run(request, cancellation: flag, onProgress: progress, onLog: log))
                            }
                        } catch { continuation.resume(throwing: error) }
                    }
                }
            } onCancel: { flag.cancel() }
        } catch let crash as JobCrash {
            metrics.jobCrashed(crash.reason)
            logger.error("job process ended: \(crash)", metadata: ["prediction_id": "\(id)"])
            throw crash
        }
    }
}

/// Lets one progress line through every half second (and the last one).
final class ProgressThrottle: @unchecked Sendable {
    // Only used from the single engine thread that reports progress.
    private var last = Date.distantPast
    func due(final: Bool) -> Bool {
        let now = Date()
        guard final || now.timeIntervalSince(last) >= 0.5 else { return false }
        last = now
        return true
    }
}

/// At most `permits` holders at once; the rest wait their turn in order.
actor AsyncSemaphore {
    private var free: Int
    private var waiting: [CheckedContinuation<Void, Never>] = []
    /// Reports how many wait (the download queue's depth).
    private let depth: Gauge?

    init(_ permits: Int, waiting depth: Gauge? = nil) {
        free = max(1, permits)
        self.depth = depth
    }

    func withPermit<T: Sendable>(_ body: @Sendable () async throws -> T) async throws -> T {
        if free > 0 { free -= 1 } else {
            depth?.increment()
            await withCheckedContinuation { waiting.append($0) }
            depth?.decrement()
        }
        defer { release() }
        return try await body()
    }

    private func release() {
        if waiting.isEmpty { free += 1 } else { waiting.removeFirst().resume() }
    }
}
