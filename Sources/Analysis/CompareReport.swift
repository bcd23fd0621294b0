/// What a comparison found: every encode, the BD-rates, the source and how it was measured.
/// Its JSON is `vfx compare --json`; the table, CSV and HTML are drawn from it.
public struct CompareReport: Sendable, Equatable, Codable {
    public var points: [PointResult]
    public var bdRate: [BDRateResult]
    public var source: SourceInfo
    public var unavailable: [UnavailableEncoder]
    public var failures: [FailedEncode]
    public var method: Method
    /// The point whose per-frame quality the HTML charts (nil: the baseline's middle point).
    public var chartPoint: EncodeJob?

    enum CodingKeys: String, CodingKey {
        case points, bdRate = "bd_rate", source, unavailable, failures, method, chartPoint = "chart_point"
    }

    public init(points: [PointResult], bdRate: [BDRateResult], source: SourceInfo, unavailable: [UnavailableEncoder],
                failures: [FailedEncode], method: Method, chartPoint: EncodeJob? = nil) {
        self.points = points; self.bdRate = bdRate; self.source = source; self.unavailable = unavailable
        self.failures = failures; self.method = method; self.chartPoint = chartPoint
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(points, forKey: .points); try c.encode(bdRate, forKey: .bdRate); try c.encode(source, forKey: .source)
        try c.encode(unavailable, forKey: .unavailable); try c.encode(failures, forKey: .failures)
        try c.encode(method, forKey: .method); try c.encode(chartPoint, forKey: .chartPoint)
    }

    /// How the numbers were made, in words.
    public struct Method: Sendable, Equatable, Codable {
        public var bdRate = BDRate.method
        public var psnrYUV = "PSNR per plane from the mean squared error over all frames; YUV weighted 6:1:1"
        public var ssim = "mean over frames of libavfilter ssim's All (planes weighted by size); BD-rate on -10*log10(1-SSIM)"
        /// How VMAF was measured, or why it was not.
        public var vmaf: String
        public var timing: String
        enum CodingKeys: String, CodingKey { case bdRate = "bd_rate", psnrYUV = "psnr_yuv", ssim, vmaf, timing }
    }
}

/// One encode and what it measured. Missing values encode as JSON null.
public struct PointResult: Sendable, Equatable, Codable {
    public var codec: String
    public var preset: String?
    public var crf: Int
    public var bytes: Int
    public var bitrateKbps: Double
    public var encodeSeconds: Double
    public var cpuSeconds: Double
    public var fps: Double
    public var frames: Int
    public var psnrY: Double
    public var psnrYUV: Double
    public var ssim: Double
    public var vmaf: Double?
    /// Values per frame, in order.
    public var perFrame: PerFrame

    public struct PerFrame: Sendable, Equatable, Codable {
        public var psnrY: [Double]
        public var ssim: [Double]
        public var vmaf: [Double]?
        enum CodingKeys: String, CodingKey { case psnrY = "psnr_y", ssim, vmaf }
        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(psnrY, forKey: .psnrY); try c.encode(ssim, forKey: .ssim); try c.encode(vmaf, forKey: .vmaf)
        }
    }

    public var group: EncodeGroup { EncodeGroup(codec: codec, preset: preset) }

    enum CodingKeys: String, CodingKey {
        case codec, preset, crf, bytes, bitrateKbps = "bitrate_kbps", encodeSeconds = "encode_seconds", cpuSeconds = "cpu_seconds"
        case fps, frames, psnrY = "psnr_y", psnrYUV = "psnr_yuv", ssim, vmaf, perFrame = "per_frame"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(codec, forKey: .codec); try c.encode(preset, forKey: .preset); try c.encode(crf, forKey: .crf)
        try c.encode(bytes, forKey: .bytes); try c.encode(bitrateKbps, forKey: .bitrateKbps)
        try c.encode(encodeSeconds, forKey: .encodeSeconds); try c.encode(cpuSeconds, forKey: .cpuSeconds)
        try c.encode(fps, forKey: .fps); try c.encode(frames, forKey: .frames)
        try c.encode(psnrY, forKey: .psnrY); try c.encode(psnrYUV, forKey: .psnrYUV); try c.encode(ssim, forKey: .ssim)
        try c.encode(vmaf, forKey: .vmaf); try c.encode(perFrame, forKey: .perFrame)
    }
}

/// The BD-rate of one encoder and preset against the baseline on one metric.
public struct BDRateResult: Sendable, Equatable, Codable {
    public var codec: String
    public var preset: String?
    public var baseline: String
    /// psnr_y, psnr_yuv, ssim or vmaf.
    public var metric: String
    /// Percent more bitrate than the baseline for the same quality (negative: saves); nil when there is none.
    public var percent: Double?
    public var note: String

    public var group: EncodeGroup { EncodeGroup(codec: codec, preset: preset) }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(codec, forKey: .codec); try c.encode(preset, forKey: .preset); try c.encode(baseline, forKey: .baseline)
        try c.encode(metric, forKey: .metric); try c.encode(percent, forKey: .percent); try c.encode(note, forKey: .note)
    }
}

/// An encode that failed, and why.
public struct FailedEncode: Error, Sendable, Equatable, Codable {
    public var codec: String
    public var preset: String?
    public var crf: Int
    public var error: String
}

/// What was compared.
public struct SourceInfo: Sendable, Equatable, Codable {
    public var input: String
    public var width: Int
    public var height: Int
    public var pixelFormat: String
    public var frameRate: Double?
    /// Frames and seconds of the reference (after the chain and sampling).
    public var frames: Int
    public var duration: Double
    /// The input's own length in seconds, when known.
    public var inputDuration: Double?
    /// The chain applied before encoding, as `--chain` text (empty: none).
    public var chain: String
    /// The segments used instead of the whole input, as [start, seconds] pairs; nil: the whole input.
    public var sampled: [[Double]]?

    enum CodingKeys: String, CodingKey {
        case input, width, height, pixelFormat = "pixel_format", frameRate = "frame_rate", frames, duration
        case inputDuration = "input_duration", chain, sampled
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(input, forKey: .input); try c.encode(width, forKey: .width); try c.encode(height, forKey: .height)
        try c.encode(pixelFormat, forKey: .pixelFormat); try c.encode(frameRate, forKey: .frameRate)
        try c.encode(frames, forKey: .frames); try c.encode(duration, forKey: .duration)
        try c.encode(inputDuration, forKey: .inputDuration); try c.encode(chain, forKey: .chain); try c.encode(sampled, forKey: .sampled)
    }
}

extension CompareReport {
    /// The metrics BD-rates are given for, in order (vmaf only where measured).
    public var metrics: [String] { ["psnr_y", "psnr_yuv", "ssim"] + (points.contains { $0.vmaf != nil } ? ["vmaf"] : []) }

    /// Each encoder/preset curve, in the order first measured.
    public var groups: [EncodeGroup] {
        var out: [EncodeGroup] = []
        for p in points where !out.contains(p.group) { out.append(p.group) }
        return out
    }

    /// The BD-rate of `group` on `metric`, if reported.
    public func bdRate(_ group: EncodeGroup, _ metric: String) -> BDRateResult? {
        bdRate.first { $0.group == group && $0.metric == metric }
    }

    /// Curves ordered by BD-rate on PSNR-Y (lowest first), those without a number last.
    public var groupsByBDRate: [EncodeGroup] {
        groups.enumerated().sorted { a, b in
            let x = bdRate(a.element, "psnr_y")?.percent, y = bdRate(b.element, "psnr_y")?.percent
            switch (x, y) {
            case let (x?, y?): return x != y ? x < y : a.offset < b.offset
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.offset < b.offset
            }
        }.map(\.element)
    }
}
