#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Jobs
import MediaIO
import Pipeline
import Synchronization

/// One encode to run: read `source` (the lossless reference), write `output` with `job`'s settings.
public struct EncodeTask: Sendable {
    public var job: EncodeJob
    public var source: String
    public var output: String
    /// Codec threads for this encode (the cores shared among parallel encodes).
    public var threads: Int
}

/// What an encode cost.
public struct EncodeCost: Sendable {
    public var wallSeconds: Double
    public var cpuSeconds: Double
    public init(wallSeconds: Double, cpuSeconds: Double) { self.wallSeconds = wallSeconds; self.cpuSeconds = cpuSeconds }
}

/// Runs one encode and says what it cost; `vfx compare` runs each in a child process so CPU time is its own.
public typealias EncodeLauncher = @Sendable (EncodeTask) throws -> EncodeCost

/// What a running comparison reports.
public enum CompareEvent: Sendable {
    case reference(String)
    case started(EncodeJob, done: Int, total: Int)
    case finished(EncodeJob, done: Int, total: Int, error: String?)
}

/// Runs a comparison: builds the reference, encodes every point (several at once), measures each
/// against the reference and computes BD-rates. Working files live in `workDirectory`, which the
/// caller creates and removes.
public final class Comparison: Sendable {
    public let request: CompareRequest
    public let plan: ComparePlan
    private let launcher: EncodeLauncher
    private let workDirectory: String
    private let cancellation: CancellationFlag
    private let onEvent: @Sendable (CompareEvent) -> Void
    /// Kept encodes go here (nil: they are deleted once measured).
    private let keepEncodesIn: String?

    public init(request: CompareRequest, plan: ComparePlan, workDirectory: String, keepEncodesIn: String? = nil,
                cancellation: CancellationFlag = CancellationFlag(), launcher: @escaping EncodeLauncher,
                onEvent: @escaping @Sendable (CompareEvent) -> Void = { _ in }) {
        self.request = request; self.plan = plan; self.workDirectory = workDirectory; self.keepEncodesIn = keepEncodesIn
        self.cancellation = cancellation; self.launcher = launcher; self.onEvent = onEvent
    }

    /// The encoders of the catalogue that open here, probed once: nil when it opens, else why not.
    public static func probeEncoder(_ entry: OutputEncoder) -> String? {
        let a = CodecCatalog.availability(of: entry)
        return a.opens ? nil : (a.reason ?? "does not open")
    }

    public func run() throws -> CompareReport {
        let reference = workDirectory + "/reference.mkv"
        let info = try MediaInfo.probe(request.input)
        let segments = Self.segments(sample: request.sample, duration: info.duration)
        onEvent(.reference(segments == nil ? "building the reference" : "building the reference from \(segments!.count) segments"))
        try buildReference(reference, segments: segments)
        let ref = try MediaInfo.probe(reference)
        guard let refVideo = ref.videoStream.map({ ref.streams[$0] }) else { throw MediaError.noVideoStream(reference) }

        let cores = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        let defaults = WorkerPool.defaultWorkers(cores: cores)
        let workers = request.jobs ?? defaults.jobs
        let threads = request.jobs == nil ? defaults.threadsPerJob : max(1, cores / workers)
        let total = plan.jobs.count
        let results = Mutex<[Int: Result<PointResult, FailedEncode>]>([:])
        let done = Mutex(0)
        let cancellation = self.cancellation
        WorkerPool(workers: workers).run(count: total, shouldStart: { !cancellation.isCancelled }) { [self] i in
            let job = plan.jobs[i]
            onEvent(.started(job, done: done.withLock { $0 }, total: total))
            let outcome: Result<PointResult, FailedEncode>
            do {
                outcome = .success(try encodeAndMeasure(job, reference: reference, threads: threads))
            } catch MediaError.cancelled {
                return  // the whole comparison stops; nothing to report for this point
            } catch {
                outcome = .failure(FailedEncode(codec: job.codec, preset: job.preset, crf: job.quality, error: "\(error)"))
            }
            results.withLock { $0[i] = outcome }
            let n = done.withLock { $0 += 1; return $0 }
            let error: String? = if case let .failure(f) = outcome { f.error } else { nil }
            onEvent(.finished(job, done: n, total: total, error: error))
        }
        if cancellation.isCancelled { throw MediaError.cancelled }
        let all = results.withLock { r in (0..<total).compactMap { r[$0] } }
        let points = all.compactMap { if case let .success(p) = $0 { return p } else { return nil } }
        let failures = all.compactMap { if case let .failure(f) = $0 { return f } else { return nil } }

        let source = SourceInfo(input: request.input, width: refVideo.width ?? 0, height: refVideo.height ?? 0,
                                pixelFormat: refVideo.pixelFormat ?? "", frameRate: refVideo.frameRate,
                                frames: points.first?.frames ?? refVideo.frameCount ?? 0,
                                duration: ref.duration ?? refVideo.duration ?? 0, inputDuration: info.duration,
                                chain: Chain.text(request.steps), sampled: segments?.map { [$0.start, $0.seconds] })
        let vmafNote = !QualityMeter.hasVMAF ? "not measured: this FFmpeg build has no libvmaf filter"
            : points.contains { $0.vmaf != nil } ? "libvmaf with its default model, mean over frames"
            : "not measured: libvmaf gave no per-frame scores"
        let timing = "each encode runs as its own process reading the lossless reference; \(workers) at once with \(threads) codec thread(s) each; "
            + "wall and CPU seconds include decoding the reference"
        return CompareReport(points: points, bdRate: Self.bdRates(points, baseline: plan.baseline), source: source,
                             unavailable: plan.unavailable, failures: failures,
                             method: CompareReport.Method(vmaf: vmafNote, timing: timing), chartPoint: request.chartPoint)
    }

    /// A stretch of the input used as part of the reference.
    public struct Segment: Sendable, Equatable { public var start: Double; public var seconds: Double }

    /// Evenly spread segments covering `sample` seconds in all; nil when the whole input is shorter.
    public static func segments(sample: Double?, duration: Double?) -> [Segment]? {
        guard let sample, let duration, duration > sample else { return nil }
        let count = max(1, min(CompareRequest.maxSegments, Int((sample / CompareRequest.segmentSeconds).rounded())))
        let length = sample / Double(count)
        // Segment k starts so the gaps before, between and after the segments are equal.
        let gap = (duration - sample) / Double(count + 1)
        return (0..<count).map { k in Segment(start: gap * Double(k + 1) + length * Double(k), seconds: length) }
    }

    /// Decodes the input through the chain into a lossless file (FFV1), sampled segments joined end to end.
    private func buildReference(_ path: String, segments: [Segment]?) throws {
        func make(_ output: String, _ steps: [ChainStep]) throws {
            var r = ProcessRequest(recipe: Recipe(input: request.input, output: output, steps: steps,
                                                  settings: OutputSettings(codec: OutputCatalogue.lossless.name, quality: 0, audio: .drop)))
            r.allowFallback = false
            r.outputName = "the comparison's reference"
            _ = try Runner(request: r, cancellation: cancellation).run()
        }
        guard let segments else { return try make(path, request.steps) }
        var parts: [String] = []
        defer { for p in parts { unlink(p) } }
        for (k, s) in segments.enumerated() {
            let part = workDirectory + "/segment\(k).mkv"
            try make(part, [ChainStep("trim", ["start": .number(s.start), "duration": .number(s.seconds)])] + request.steps)
            parts.append(part)
        }
        try VideoConcatenation.join(parts, into: path, name: "the comparison's reference")
    }

    private func encodeAndMeasure(_ job: EncodeJob, reference: String, threads: Int) throws -> PointResult {
        let keep = keepEncodesIn
        let output = (keep ?? workDirectory) + "/\(job.stem).mkv"
        defer { if keep == nil { unlink(output) } }
        let cost = try launcher(EncodeTask(job: job, source: reference, output: output, threads: threads))
        var st = stat()
        guard stat(output, &st) == 0 else { throw MediaError.noFramesDecoded(output) }
        let bytes = Int(st.st_size)
        let duration = try MediaInfo.probe(output).duration ?? 0
        let quality = try QualityMeter.measure(reference: reference, distorted: output, referenceName: "the reference",
                                               distortedName: "the \(job.label) encode", threads: threads, cancellation: cancellation)
        guard quality.distortedFrames == quality.referenceFrames else {
            throw CompareError(job.label, "the encode has \(quality.distortedFrames) frames, the reference \(quality.referenceFrames)")
        }
        let values = quality.frames.flatMap { $0.mse + [$0.ssim] }
        guard values.allSatisfy(\.isFinite), duration > 0 else { throw CompareError(job.label, "the quality filters gave no values") }
        return PointResult(codec: job.codec, preset: job.preset, crf: job.quality, bytes: bytes,
                           bitrateKbps: Double(bytes) * 8 / duration / 1000, encodeSeconds: cost.wallSeconds,
                           cpuSeconds: cost.cpuSeconds, fps: cost.wallSeconds > 0 ? Double(quality.frames.count) / cost.wallSeconds : 0,
                           frames: quality.frames.count, psnrY: quality.psnr(plane: 0), psnrYUV: quality.psnrYUV,
                           ssim: quality.ssim, vmaf: quality.vmaf,
                           perFrame: .init(psnrY: quality.frames.map { QualityMeasurement.psnr(mse: $0.mse[0], peak: quality.peak) },
                                           ssim: quality.frames.map(\.ssim),
                                           vmaf: quality.vmaf == nil ? nil : quality.frames.compactMap(\.vmaf)))
    }

    /// BD-rate of every curve against the baseline's, per metric.
    public static func bdRates(_ points: [PointResult], baseline: EncodeGroup) -> [BDRateResult] {
        var groups: [EncodeGroup] = []
        for p in points where !groups.contains(p.group) { groups.append(p.group) }
        let metrics: [(String, (PointResult) -> Double?)] = [
            ("psnr_y", { $0.psnrY }), ("psnr_yuv", { $0.psnrYUV }),
            ("ssim", { $0.ssim < 1 ? -10 * log10(1 - $0.ssim) : nil }), ("vmaf", { $0.vmaf }),
        ]
        let base = points.filter { $0.group == baseline }
        var out: [BDRateResult] = []
        for g in groups {
            let mine = points.filter { $0.group == g }
            for (metric, value) in metrics {
                if metric == "vmaf" && !points.contains(where: { $0.vmaf != nil }) { continue }
                let curve = { (ps: [PointResult]) in ps.compactMap { p in value(p).map { BDRate.Point(rate: p.bitrateKbps, quality: $0) } } }
                let outcome: BDRate.Outcome = base.isEmpty ? .tooFewPoints("the baseline") : BDRate.compute(baseline: curve(base), test: curve(mine))
                out.append(BDRateResult(codec: g.codec, preset: g.preset, baseline: baseline.label, metric: metric,
                                        percent: outcome.percent, note: outcome.note))
            }
        }
        return out
    }
}
