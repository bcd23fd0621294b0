import CFFmpeg
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif

/// The quality of one decoded frame against its reference, as libavfilter's `psnr`, `ssim` and
/// (where built in) `libvmaf` filters measure it.
public struct FrameQuality: Sendable, Equatable, Codable {
    /// Mean squared error of the Y, U and V planes.
    public var mse: [Double]
    /// SSIM of all planes together, weighted by their sizes (the `ssim` filter's "All").
    public var ssim: Double
    public var vmaf: Double?

    public init(mse: [Double], ssim: Double, vmaf: Double? = nil) { self.mse = mse; self.ssim = ssim; self.vmaf = vmaf }
}

/// Per-frame quality of a distorted video against its reference, with the pooled scores.
public struct QualityMeasurement: Sendable, Equatable {
    public var frames: [FrameQuality]
    /// The largest sample value (255 for 8-bit video, 1023 for 10-bit).
    public var peak: Double
    public var referenceFrames: Int
    public var distortedFrames: Int

    /// Identical planes have no finite PSNR; reports show this value instead.
    public static let psnrCeiling = 100.0

    /// PSNR in dB of the pooled mean squared error of `plane` (0: Y, 1: U, 2: V), as FFmpeg's `psnr` summary.
    public func psnr(plane: Int) -> Double {
        guard !frames.isEmpty else { return .nan }
        let mse = frames.reduce(0) { $0 + $1.mse[plane] } / Double(frames.count)
        return Self.psnr(mse: mse, peak: peak)
    }

    /// The 6:1:1 weighted PSNR of Y, U and V (JCT-VC convention).
    public var psnrYUV: Double { (6 * psnr(plane: 0) + psnr(plane: 1) + psnr(plane: 2)) / 8 }
    /// Mean SSIM over the frames.
    public var ssim: Double { frames.isEmpty ? .nan : frames.reduce(0) { $0 + $1.ssim } / Double(frames.count) }
    /// Mean VMAF over the frames, when measured.
    public var vmaf: Double? {
        let v = frames.compactMap(\.vmaf)
        return v.isEmpty || v.count != frames.count ? nil : v.reduce(0, +) / Double(v.count)
    }

    public static func psnr(mse: Double, peak: Double) -> Double {
        mse > 0 ? min(psnrCeiling, 10 * log10(peak * peak / mse)) : psnrCeiling
    }
}

/// Measures a distorted video against its reference in-process through libavfilter: both decoded,
/// paired frame by frame in decode order, the distorted one scaled to the reference's size and pixel
/// format, then `psnr`, `ssim` and `libvmaf` (when this FFmpeg has it) read per frame.
public enum QualityMeter {
    /// Whether this FFmpeg build has the libvmaf filter.
    public static var hasVMAF: Bool { avfilter_get_by_name("libvmaf") != nil }

    public static func measure(reference: String, distorted: String, referenceName: String? = nil, distortedName: String? = nil,
                               threads: Int = 0, cancellation: CancellationFlag = CancellationFlag()) throws -> QualityMeasurement {
        let ref = try VideoFrameReader(path: reference, name: referenceName, threads: threads, cancellation: cancellation)
        let dist = try VideoFrameReader(path: distorted, name: distortedName, threads: threads, cancellation: cancellation)
        let rf = try Frame(), df = try Frame(), out = try Frame()
        var graph: MetricGraph?
        var frames: [FrameQuality] = []
        var paired = 0, extraRef = 0, extraDist = 0
        while true {
            if cancellation.isCancelled { throw MediaError.cancelled }
            let r = try ref.next(into: rf), d = try dist.next(into: df)
            if !r || !d {
                if r { extraRef += 1; while try ref.next(into: rf) { extraRef += 1 } }
                if d { extraDist += 1; while try dist.next(into: df) { extraDist += 1 } }
                break
            }
            if graph == nil { graph = try MetricGraph(reference: rf, distorted: df, name: distortedName ?? distorted, threads: threads) }
            rf.pts = Int64(paired); df.pts = Int64(paired)
            paired += 1
            try graph!.push(reference: rf, distorted: df)
            try graph!.drain(into: out) { frames.append($0) }
        }
        guard let graph else { throw MediaError.noFramesDecoded(paired == 0 && extraRef == 0 ? (referenceName ?? reference) : (distortedName ?? distorted)) }
        try graph.end()
        try graph.drain(into: out) { frames.append($0) }
        var measurement = QualityMeasurement(frames: frames, peak: graph.peak, referenceFrames: paired + extraRef,
                                             distortedFrames: paired + extraDist)
        if let scores = try graph.finishVMAF(), scores.count == measurement.frames.count {
            for i in scores.indices { measurement.frames[i].vmaf = scores[i] }
        }
        return measurement
    }
}

/// The graph: the reference is split to each metric's second input; the distorted video, scaled to
/// the reference's size and format, passes through psnr, ssim and libvmaf in turn to the sink.
private final class MetricGraph {
    private let graph: FilterGraph
    private let refSource: FilterGraph.Node
    private let distSource: FilterGraph.Node
    private let sink: FilterGraph.Node
    let peak: Double
    private let vmafLog: String?

    init(reference rf: Frame, distorted df: Frame, name: String, threads: Int) throws {
        graph = try FilterGraph(name: name, threads: threads)
        let tb = AVRational(num: 1, den: 25)
        let format = rf.pixelFormat
        peak = Double((1 << PixelFormat(format).bitDepth) - 1)
        refSource = try graph.addVideoSource(width: rf.width, height: rf.height, format: format, timeBase: tb,
                                             sampleAspectRatio: rf.pointer.pointee.sample_aspect_ratio, frameRate: AVRational(num: 25, den: 1))
        distSource = try graph.addVideoSource(width: df.width, height: df.height, format: df.pixelFormat, timeBase: tb,
                                              sampleAspectRatio: df.pointer.pointee.sample_aspect_ratio, frameRate: AVRational(num: 25, den: 1))
        let vmaf = QualityMeter.hasVMAF
        let split = try graph.add(FilterSpec("split", [("outputs", vmaf ? "3" : "2")]))
        try graph.link(refSource, to: split)
        let matched = try graph.chain([
            FilterSpec("scale", [("w", "\(rf.width)"), ("h", "\(rf.height)"), ("flags", "bicubic")]),
            FilterSpec("format", [("pix_fmts", PixelFormat(format).name)]),
        ], after: distSource)
        let psnr = try graph.add(FilterSpec("psnr", [("shortest", "1")]))
        try graph.link(matched, to: psnr, 0)
        try graph.link(split, 0, to: psnr, 1)
        let ssim = try graph.add(FilterSpec("ssim", [("shortest", "1")]))
        try graph.link(psnr, to: ssim, 0)
        try graph.link(split, 1, to: ssim, 1)
        var last = ssim
        if vmaf {
            // libvmaf reports per-frame scores only through its log file.
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("vfx-vmaf-\(UInt64.random(in: 0...UInt64.max)).json").path
            let node = try graph.add(FilterSpec("libvmaf", [("log_path", log), ("log_fmt", "json"), ("shortest", "1")]))
            try graph.link(last, to: node, 0)
            try graph.link(split, 2, to: node, 1)
            last = node
            vmafLog = log
        } else {
            vmafLog = nil
        }
        sink = try graph.addSink()
        try graph.link(last, to: sink)
        try graph.configure()
    }

    func push(reference: Frame, distorted: Frame) throws {
        try graph.push(reference, into: refSource)
        try graph.push(distorted, into: distSource)
    }

    func end() throws {
        try graph.push(nil, into: refSource)
        try graph.push(nil, into: distSource)
    }

    func drain(into frame: Frame, _ emit: (FrameQuality) -> Void) throws {
        while case .value = try graph.pull(sink, into: frame) {
            defer { frame.unref() }
            let mse = ["y", "u", "v"].map { Double(frame.metadata("lavfi.psnr.mse.\($0)") ?? "") ?? .nan }
            emit(FrameQuality(mse: mse, ssim: Double(frame.metadata("lavfi.ssim.All") ?? "") ?? .nan))
        }
    }

    /// Per-frame VMAF from libvmaf's log, once the graph is gone (the filter writes it as it closes).
    func finishVMAF() throws -> [Double]? {
        guard let vmafLog else { return nil }
        defer { try? FileManager.default.removeItem(atPath: vmafLog) }
        struct Log: Decodable {
            struct Entry: Decodable { let metrics: [String: Double] }
            let frames: [Entry]
        }
        graph.release()
        guard let data = FileManager.default.contents(atPath: vmafLog),
              let log = try? JSONDecoder().decode(Log.self, from: data) else { return nil }
        let scores = log.frames.compactMap { $0.metrics["vmaf"] }
        return scores.count == log.frames.count ? scores : nil
    }
}
