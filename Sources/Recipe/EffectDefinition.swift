import Effects

/// Which part of the library an entry belongs to (how `vfx effects` groups them).
public enum EffectKind: String, Sendable, Codable, CaseIterable {
    /// Changes geometry or timing: trim, resize, crop, fps, rotate, flip, speed.
    case preprocess
    /// Maps each pixel's colour alone; consecutive colour steps fuse into one pass.
    case color
    /// Looks at neighbouring pixels or at time: blur, sharpen, edges, vignette, grain, fade.
    case spatial
}

/// What the video looks like at a point in the chain, as far as the planner knows.
public struct StreamShape: Sendable, Equatable {
    public var width: Int
    public var height: Int
    /// Pixel aspect ratio (1 for square pixels).
    public var pixelAspect: Double
    public var frameRate: Double
    /// Seconds of content, when the input says.
    public var duration: Double?

    public init(width: Int, height: Int, pixelAspect: Double = 1, frameRate: Double, duration: Double?) {
        self.width = width; self.height = height; self.pixelAspect = pixelAspect
        self.frameRate = frameRate; self.duration = duration
    }

    /// The largest frame edge a step may produce.
    public static let maxEdge = 8192
}

/// One libavfilter filter with its options, built by our code from typed parameters (never a user's string).
public struct FilterNode: Sendable, Equatable, CustomStringConvertible {
    public var name: String
    public var options: [(key: String, value: String)]

    public init(_ name: String, _ options: [(String, String)] = []) {
        self.name = name
        self.options = options.map { (key: $0.0, value: $0.1) }
    }

    public static func == (a: FilterNode, b: FilterNode) -> Bool {
        a.name == b.name && a.options.map(\.key) == b.options.map(\.key) && a.options.map(\.value) == b.options.map(\.value)
    }

    /// The ffmpeg CLI form, for logs and for tests that run the same filter through `ffmpeg`.
    public var description: String {
        options.isEmpty ? name : name + "=" + options.map { "\($0.key)=\($0.value)" }.joined(separator: ":")
    }
}

/// What a filter step lowers to: video filters, and audio filters that keep the sound in step.
public struct FilterFragment: Sendable, Equatable {
    public var video: [FilterNode]
    public var audio: [FilterNode]
    public init(video: [FilterNode], audio: [FilterNode] = []) { self.video = video; self.audio = audio }
}

/// Reads what a step's `url` parameter points at (the CLI reads files; the server only what it fetched).
public typealias ResourceReader = @Sendable (_ location: String) throws -> [UInt8]

/// How a catalogue entry runs.
public enum Lowering: Sendable {
    /// A colour step (fusable): the ops for resolved parameters.
    case color(@Sendable (Parameters, ResourceReader) throws -> [ColorOp])
    /// A libavfilter step: the filters for resolved parameters and the shape before it; it updates the shape.
    case filter(@Sendable (Parameters, inout StreamShape) throws -> FilterFragment)
    /// A step of our own kernels that reads each frame's place on the timeline: its op for resolved parameters.
    case frame(@Sendable (Parameters) throws -> FrameOp)
}

/// A kernel applied to each frame in place, keyed by the frame's time on the whole timeline (so a
/// chunk of a split job draws what the unsplit run draws there).
public enum FrameOp: Sendable, Equatable {
    case grain(GrainNoise)
}

/// What a step lets the reader skip: for a leading trim, the window of the input it keeps (the reader
/// may seek close to its start and stop a little past its end).
public enum ReadHint: Sendable, Equatable {
    case window(start: Double, end: Double?)
}

/// How a step moves frames in time, exactly as its filters do, so that a split job can plan its chunks on
/// the output's timeline (values as the filters read them).
public enum Retiming: Sendable, Equatable {
    /// Keeps the frames from `start` (inclusive) to `end` (exclusive), in seconds, and moves them back by
    /// `start` (trim then `setpts=PTS-start/TB`).
    case cut(start: Double, end: Double?)
    /// Divides every time by `factor` (`setpts=PTS/factor`).
    case scale(factor: Double)
    /// One frame per slot of `rate` frames a second, each the latest frame at or before the slot (fps).
    case resample(rate: Double)
}

/// Whether a step can run on a stretch of the video (a chunk of a split job) and give the frames an
/// unsplit run gives there. Chunks keep the whole timeline's timestamps, so steps that read a frame's
/// time (fade) run on chunks as they are.
public enum Chunking: Sendable, Equatable {
    /// Each frame's result depends on that frame and its time only.
    case anyChunk
    /// The job runs unsplit; the reason is logged.
    case wholeOnly(String)
}

/// One catalogue entry: the single description from which parsing, help, `vfx effects`, the
/// server's validation and `/openapi.json` are all derived.
public struct EffectDefinition: Sendable {
    public let name: String
    public let summary: String
    public let kind: EffectKind
    public let parameters: [ParameterSpec]
    /// Rules across parameters (resize needs a width or a height), checked after each one is valid.
    public let rules: [ParameterRule]
    public let lowering: Lowering
    /// Set by steps that, first in a chain, let the reader skip input (trim).
    public let readHint: (@Sendable (Parameters) -> ReadHint)?
    /// Whether the step moves frames in time, so an output time maps to another source time (trim, speed).
    public let movesTime: Bool
    /// How the step moves frames in time, for a split job's plan (nil: it keeps every frame's time).
    public let retime: (@Sendable (Parameters) -> Retiming)?
    /// Whether the step runs on chunks of a split job.
    public let chunking: Chunking

    public init(name: String, summary: String, kind: EffectKind, parameters: [ParameterSpec] = [],
                rules: [ParameterRule] = [], lowering: Lowering, readHint: (@Sendable (Parameters) -> ReadHint)? = nil,
                movesTime: Bool = false, retime: (@Sendable (Parameters) -> Retiming)? = nil, chunking: Chunking = .anyChunk) {
        self.name = name; self.summary = summary; self.kind = kind; self.parameters = parameters
        self.rules = rules; self.lowering = lowering; self.readHint = readHint; self.movesTime = movesTime
        self.retime = retime
        self.chunking = movesTime && retime == nil ? .wholeOnly("it moves frames in time in a way a split job cannot plan") : chunking
    }

    /// Applies every rule to resolved parameters (defaults filled in).
    public func check(_ p: Parameters) throws {
        for rule in rules { try rule.check(p, step: name) }
    }

    public func parameter(_ name: String) -> ParameterSpec? { parameters.first { $0.name == name } }
}
