import Effects
import MediaIO
@_exported import Recipe

/// Bounds on what a job may process (the server's defence against huge or endless videos); nil: none.
public struct MediaLimits: Sendable, Equatable, Codable {
    public var maxWidth: Int?
    public var maxHeight: Int?
    /// Pixels per frame.
    public var maxPixels: Int?
    public var maxFrames: Int?
    /// Seconds of video.
    public var maxDuration: Double?
    /// Bytes of output.
    public var maxOutputBytes: Int?

    public init(maxWidth: Int? = nil, maxHeight: Int? = nil, maxPixels: Int? = nil, maxFrames: Int? = nil,
                maxDuration: Double? = nil, maxOutputBytes: Int? = nil) {
        self.maxWidth = maxWidth; self.maxHeight = maxHeight; self.maxPixels = maxPixels
        self.maxFrames = maxFrames; self.maxDuration = maxDuration; self.maxOutputBytes = maxOutputBytes
    }

    public static let none = MediaLimits()
}

/// One job as the engine runs it: the ``Recipe`` (what to do) plus how to run it here (threads,
/// limits, names for messages, where LUT files are read from).
public struct ProcessRequest: Sendable {
    public var recipe: Recipe
    /// Fall back to a CPU encoder when a hardware one cannot open.
    public var allowFallback = true
    public var inputOptions = InputOptions()
    /// Codec threads (0: FFmpeg picks for the core count).
    public var threads = 0
    /// What messages call the input and the output (default: `input` and `output`); the server
    /// names the request's fields here rather than its own temporary files.
    public var inputName: String?
    public var outputName: String?
    /// Bounds checked after probing and while decoding.
    public var limits = MediaLimits.none
    /// Reads what steps' `url` parameters name (LUT files): local files and data: URLs by default.
    public var resources: ResourceReader = LocalResources.read
    /// One chunk of a split job: only the frames in the window, video only (the stitch adds the audio).
    public var window: FrameWindow?

    public init(recipe: Recipe) { self.recipe = recipe }

    public init(input: String, output: String, steps: [ChainStep] = Self.defaultSteps) {
        recipe = Recipe(input: input, output: output, steps: steps)
    }

    /// The seed's default job: posterize with the catalogue's default levels.
    public static let defaultSteps = [ChainStep("posterize")]

    /// A path, `file://`, `http(s)://` or `data:` URL.
    public var input: String { get { recipe.input } set { recipe.input = newValue } }
    /// The output path; its extension picks the container.
    public var output: String { get { recipe.output } set { recipe.output = newValue } }
    public var steps: [ChainStep] { get { recipe.steps } set { recipe.steps = newValue } }
    public var outputCodec: String {
        get { recipe.settings.codec ?? OutputCatalogue.defaultCodec } set { recipe.settings.codec = newValue }
    }
    /// Constant quality (CRF or its equivalent); lower is better.
    public var quality: Int { get { recipe.settings.quality ?? OutputSettings.defaultQuality } set { recipe.settings.quality = newValue } }
    /// Encoder preset; `nil` uses the catalog default for the encoder.
    public var preset: String? { get { recipe.settings.preset } set { recipe.settings.preset = newValue } }
    /// The output pixel format; nil: yuv420p, or yuv420p10le for HDR sources where the encoder takes it.
    public var pixelFormat: String? { get { recipe.settings.pixelFormat } set { recipe.settings.pixelFormat = newValue } }
    public var keepAudio: Bool { get { recipe.settings.audio == .keep } set { recipe.settings.audio = newValue ? .keep : .drop } }
}

/// The stretch of the timeline one chunk of a split job makes: the frames with `start <= pts < end`, in
/// the input video stream's time base, on the job's timeline (the input's timestamps less the common
/// start offset every stream is shifted by); nil ends are open. Frames keep their timeline timestamps,
/// so a chunk's frames carry exactly the times an unsplit run gives them.
public struct FrameWindow: Sendable, Codable, Equatable {
    /// The source frames decoded, in the input video's time base on the timeline (nil: from the start, to the end).
    public var start: Int64?
    public var end: Int64?
    /// The frames the window makes, when planned (its progress counts to this).
    public var frames: Int?
    /// The frames kept out of the steps, in the steps' output time base (nil: all of them); the frames
    /// decoded past them give steps that look ahead (fps) what they need.
    public var keepStart: Int64?
    public var keepEnd: Int64?
    public init(start: Int64?, end: Int64?, frames: Int? = nil, keepStart: Int64? = nil, keepEnd: Int64? = nil) {
        self.start = start; self.end = end; self.frames = frames; self.keepStart = keepStart; self.keepEnd = keepEnd
    }

    /// Whether a frame out of the steps at `pts` is kept.
    public func keeps(_ pts: Int64) -> Bool { pts >= (keepStart ?? .min) && pts < (keepEnd ?? .max) }
}

/// How one output stream was made: which decoder and encoder, on which device ("cpu", "nvidia"), or a copy.
public struct StreamReport: Sendable, Codable, Equatable {
    public var kind: String
    public var decoder: String
    public var decoderDevice: String
    public var encoder: String
    public var encoderDevice: String

    public init(kind: String, decoder: String, decoderDevice: String, encoder: String, encoderDevice: String) {
        self.kind = kind; self.decoder = decoder; self.decoderDevice = decoderDevice
        self.encoder = encoder; self.encoderDevice = encoderDevice
    }
}

/// What a finished job did.
public struct ProcessResult: Sendable, Codable, Equatable {
    public var output: String
    public var framesDecoded: Int
    public var framesWritten: Int
    /// The encoder that actually ran (after any fallback).
    public var encoder: String
    /// Set when a requested hardware encoder could not open.
    public var fallbackFrom: String?
    public var audioStreams: Int
    public var seconds: Double
    public var framesPerSecond: Double
    public var warnings: [String]
    /// Every output stream, video first, with what decoded and encoded it.
    public var streams: [StreamReport] = []

    public init(output: String, framesDecoded: Int, framesWritten: Int, encoder: String, fallbackFrom: String?, audioStreams: Int,
                seconds: Double, framesPerSecond: Double, warnings: [String], streams: [StreamReport] = []) {
        self.output = output; self.framesDecoded = framesDecoded; self.framesWritten = framesWritten; self.encoder = encoder
        self.fallbackFrom = fallbackFrom; self.audioStreams = audioStreams; self.seconds = seconds
        self.framesPerSecond = framesPerSecond; self.warnings = warnings; self.streams = streams
    }
}

/// JobProgress of a running job.
public struct JobProgress: Sendable, Equatable {
    public var framesDone: Int
    /// Frames expected, when the input says.
    public var totalFrames: Int?
    public var elapsed: Double

    public init(framesDone: Int, totalFrames: Int?, elapsed: Double) {
        self.framesDone = framesDone; self.totalFrames = totalFrames; self.elapsed = elapsed
    }

    public var framesPerSecond: Double { elapsed > 0 ? Double(framesDone) / elapsed : 0 }
    /// Seconds left at the current rate, when the total is known.
    public var eta: Double? {
        guard let total = totalFrames, framesPerSecond > 0, total >= framesDone else { return nil }
        return Double(total - framesDone) / framesPerSecond
    }

    /// One plain line: "frame 120/191 (63%) 45.2 fps ETA 1.6s".
    public var line: String {
        var s = "frame \(framesDone)"
        if let t = totalFrames, t > 0 { s += "/\(t) (\(min(100, framesDone * 100 / t))%)" }
        s += " \(framesPerSecond.fixed(1)) fps"
        if let eta { s += " ETA \(eta.fixed(1))s" }
        return s
    }
}
