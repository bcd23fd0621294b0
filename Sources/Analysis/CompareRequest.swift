import ErrorTaxonomy
import MediaIO
import Recipe

/// One codec comparison, described once: the CLI builds it from flags, and a batch or stored job
/// could carry it as JSON.
public struct CompareRequest: Sendable, Equatable, Codable {
    /// The encoders compared when none are named: the common CPU ones and NVENC (listed as unavailable
    /// where there is no GPU).
    public static let defaultCodecs = ["libx264", "libx265", "libsvtav1", "libvpx-vp9", "h264_nvenc", "hevc_nvenc", "av1_nvenc"]
    /// Points per encoder on its default ladder (the common test conditions use four).
    public static let defaultLadder = 4
    public static let ladderRange = 2...12
    public static let defaultBaseline = "libx264"
    /// `sample` is cut into segments of about this length, at most ``maxSegments`` of them.
    public static let segmentSeconds = 2.0
    public static let maxSegments = 5

    /// A path, or a URL FFmpeg opens.
    public var input: String
    /// Applied before encoding: the reference is the processed picture.
    public var steps: [ChainStep]
    /// Encoder names from the codec catalogue.
    public var codecs: [String]
    /// `preset` for every encoder, or `codec:preset` for one; none: each encoder's default preset.
    public var presets: [String]
    /// Explicit quality values (CRF or the encoder's equivalent) for every encoder; nil: the ladder.
    public var qualities: [Int]?
    /// Points per encoder, spread over its catalogue ladder, when `qualities` is nil.
    public var ladder: Int
    /// Seconds of evenly spread segments to use instead of the whole input.
    public var sample: Double?
    /// The encoder BD-rates are measured against (its first preset).
    public var baseline: String
    /// Encodes at once (nil: as the cores allow).
    public var jobs: Int?
    /// The encode whose per-frame quality the report charts (nil: the baseline's middle point).
    public var chartPoint: EncodeJob?

    public init(input: String, steps: [ChainStep] = [], codecs: [String] = Self.defaultCodecs, presets: [String] = [],
                qualities: [Int]? = nil, ladder: Int = Self.defaultLadder, sample: Double? = nil,
                baseline: String = Self.defaultBaseline, jobs: Int? = nil) {
        self.input = input; self.steps = steps; self.codecs = codecs; self.presets = presets; self.qualities = qualities
        self.ladder = ladder; self.sample = sample; self.baseline = baseline; self.jobs = jobs
    }
}

/// A comparison request that cannot run as given.
public struct CompareError: Error, CategorizedError, CustomStringConvertible, Equatable {
    public let field: String
    public let problem: String
    public init(_ field: String, _ problem: String) { self.field = field; self.problem = problem }
    public var category: ErrorCategory { .invalidInput }
    public var description: String { "\(field): \(problem)" }
}

/// One encode of the comparison.
public struct EncodeJob: Sendable, Equatable, Codable, Hashable {
    public var codec: String
    public var preset: String?
    public var quality: Int

    public init(codec: String, preset: String?, quality: Int) { self.codec = codec; self.preset = preset; self.quality = quality }

    enum CodingKeys: String, CodingKey { case codec, preset, quality = "crf" }

    /// "libx264 medium crf 23".
    public var label: String { [codec, preset, "crf \(quality)"].compactMap { $0 }.joined(separator: " ") }
    /// A file name stem: "libx264-medium-crf23" (codec names come from the catalogue and presets are checked names).
    public var stem: String { [codec, preset, "crf\(quality)"].compactMap { $0 }.joined(separator: "-") }
}

/// An encoder that was asked for but cannot run here, and why.
public struct UnavailableEncoder: Sendable, Equatable, Codable {
    public var codec: String
    public var reason: String
    public init(codec: String, reason: String) { self.codec = codec; self.reason = reason }
}

/// The encodes a request asks for, and the encoders left out.
public struct ComparePlan: Sendable, Equatable {
    public var jobs: [EncodeJob]
    public var unavailable: [UnavailableEncoder]
    /// The encoder and preset BD-rates are measured against.
    public var baseline: EncodeGroup

    /// Checks the request against the catalogue; `opens` says why an encoder cannot open here (nil: it opens).
    public static func make(_ request: CompareRequest, opens: (OutputEncoder) -> String?) throws -> ComparePlan {
        var names: [String] = []
        for name in request.codecs.flatMap({ $0 == "all" ? OutputCatalogue.encoders.map(\.name) : [$0] }) where !names.contains(name) {
            names.append(name)
        }
        guard !names.isEmpty else { throw CompareError("--codecs", "name at least one encoder") }
        if !names.contains(request.baseline) { names.insert(request.baseline, at: 0) }
        let entries = try names.map { name -> OutputEncoder in
            guard let e = OutputCatalogue.encoders.first(where: { $0.name == name }) else {
                throw CompareError("--codecs", "unknown encoder \(name) (choose from \(OutputCatalogue.encoders.map(\.name).joined(separator: ", ")), or all)")
            }
            return e
        }
        guard CompareRequest.ladderRange.contains(request.ladder) else {
            throw CompareError("--ladder", "\(request.ladder) is out of range (allowed: \(CompareRequest.ladderRange.lowerBound)...\(CompareRequest.ladderRange.upperBound))")
        }
        if let q = request.qualities {
            guard !q.isEmpty else { throw CompareError("--crf", "give at least one value") }
            for e in entries { for v in q where !e.quality.range.contains(v) {
                throw CompareError("--crf", "\(v) is out of range for \(e.name) (allowed: \(e.quality.range.lowerBound)...\(e.quality.range.upperBound))")
            } }
        }
        if let s = request.sample, !(s.isFinite && s > 0) { throw CompareError("--sample", "\(s) must be a positive number of seconds") }
        if let j = request.jobs, !(1...64).contains(j) { throw CompareError("--jobs", "\(j) is out of range (allowed: 1...64)") }
        for p in request.presets {
            if let colon = p.firstIndex(of: ":"), !names.contains(String(p[..<colon])) {
                throw CompareError("--presets", "\(p) names an encoder not compared (\(p[..<colon]))")
            }
            let preset = p.split(separator: ":", maxSplits: 1).last.map(String.init) ?? ""
            guard !preset.isEmpty, !p.hasSuffix(":") else { throw CompareError("--presets", "empty preset in \"\(p)\"") }
            // Presets are encoder option values such as medium, p4 or 8: nothing a shell or file name would misread.
            guard preset.first != "-", preset.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "-_.".contains($0)) }) else {
                throw CompareError("--presets", "\"\(preset)\" is not a preset name (letters, digits, - _ .)")
            }
        }

        var jobs: [EncodeJob] = [], unavailable: [UnavailableEncoder] = []
        var baseline: EncodeGroup?
        for e in entries {
            if let reason = opens(e) { unavailable.append(UnavailableEncoder(codec: e.name, reason: reason)); continue }
            let presets = presets(for: e, in: request.presets)
            for preset in presets {
                for q in request.qualities ?? ladder(e.ladder, points: request.ladder) {
                    let job = EncodeJob(codec: e.name, preset: preset, quality: q)
                    if !jobs.contains(job) { jobs.append(job) }
                }
            }
            if e.name == request.baseline { baseline = EncodeGroup(codec: e.name, preset: presets.first!) }
        }
        if let wanted = request.chartPoint, !jobs.contains(wanted) {
            throw CompareError("--chart-point", "\(wanted.label) is not one of the encodes compared")
        }
        guard let baseline else {
            let reason = unavailable.first { $0.codec == request.baseline }?.reason ?? "not available"
            throw CompareError("--baseline", "\(request.baseline) cannot run here: \(reason)")
        }
        return ComparePlan(jobs: jobs, unavailable: unavailable, baseline: baseline)
    }

    /// `points` values spread evenly over `range`, rounded, best quality first.
    public static func ladder(_ range: ClosedRange<Int>, points: Int) -> [Int] {
        guard points > 1 else { return [range.lowerBound] }
        var out: [Int] = []
        for i in 0..<points {
            let v = Int((Double(range.lowerBound) + Double(range.upperBound - range.lowerBound) * Double(i) / Double(points - 1)).rounded())
            if !out.contains(v) { out.append(v) }
        }
        return out
    }

    static func presets(for e: OutputEncoder, in list: [String]) -> [String?] {
        var out: [String?] = []
        for p in list {
            if let colon = p.firstIndex(of: ":") {
                if p[..<colon] == e.name { out.append(String(p[p.index(after: colon)...])) }
            } else {
                out.append(p)
            }
        }
        return out.isEmpty ? [e.defaultPreset] : out
    }
}

/// An encoder at one preset: one curve of the comparison.
public struct EncodeGroup: Sendable, Equatable, Hashable, Codable {
    public var codec: String
    public var preset: String?
    public init(codec: String, preset: String?) { self.codec = codec; self.preset = preset }
    public var label: String { [codec, preset].compactMap { $0 }.joined(separator: " ") }
}

extension EncodeJob {
    public var group: EncodeGroup { EncodeGroup(codec: codec, preset: preset) }
}
