/// What to do with the audio.
public enum AudioPolicy: String, Sendable, Codable, CaseIterable {
    /// Every usable audio stream: copied where the container takes it and no step changes timing, else re-encoded.
    case keep
    /// No audio in the output.
    case drop
}

/// Where the input video is decoded.
public enum DecoderChoice: String, Sendable, Codable, CaseIterable {
    /// NVDEC (CUDA) or VA-API when the machine has a device that decodes the stream's codec, else the CPU.
    case auto
    case cpu
    /// NVIDIA's NVDEC; a job fails, naming it, when the machine has no such device.
    case cuda
    /// VA-API (Intel, AMD); a job fails, naming it, when the machine has no such device.
    case vaapi

    /// What `--decoder`, the manifest's `decoder` column and the API's `decoder` input take, for help.
    public static let help = "Where the input video is decoded: auto (NVDEC or VA-API when this machine has a device "
        + "that decodes the stream's codec, else the CPU), cpu, cuda or vaapi (those two fail when there is no such device)."
}

/// How the output is encoded; nil fields take the defaults the engine documents (``OutputSettings/defaultQuality``,
/// the codec catalogue's default encoder and each encoder's preset).
public struct OutputSettings: Sendable, Equatable, Codable {
    /// The default constant quality (CRF or the encoder's equivalent).
    public static var defaultQuality: Int { OutputCatalogue.defaultQuality }

    public var codec: String?
    public var quality: Int?
    public var preset: String?
    public var pixelFormat: String?
    public var audio: AudioPolicy
    /// Where the input is decoded (nil: ``DecoderChoice/auto``).
    public var decoder: DecoderChoice?

    public init(codec: String? = nil, quality: Int? = nil, preset: String? = nil, pixelFormat: String? = nil, audio: AudioPolicy = .keep,
                decoder: DecoderChoice? = nil) {
        self.codec = codec; self.quality = quality; self.preset = preset; self.pixelFormat = pixelFormat; self.audio = audio
        self.decoder = decoder
    }
}

/// One job, described once: where from, where to, the steps in order, and how to encode.
/// The CLI and the server both build one of these; batch items and stored jobs are these too.
public struct Recipe: Sendable, Equatable, Codable {
    /// A path, or a `file://`, `http(s)://` or `data:` URL.
    public var input: String
    /// The output path; its extension picks the container.
    public var output: String
    public var steps: [ChainStep]
    public var settings: OutputSettings

    public init(input: String, output: String, steps: [ChainStep] = [], settings: OutputSettings = OutputSettings()) {
        self.input = input; self.output = output; self.steps = steps; self.settings = settings
    }

    /// The seed's inputs (`effect`, `num_levels`, `threshold`) as steps: posterize or threshold with
    /// that parameter, or none. `auto` means threshold when only a threshold is given, else posterize.
    public static func seedSteps(effect: String?, numLevels: Int?, threshold: Double?) throws -> [ChainStep] {
        var name = effect ?? "auto"
        if name == "auto" { name = threshold != nil && numLevels == nil ? "threshold" : "posterize" }
        switch name {
        case "posterize": return [ChainStep("posterize", numLevels.map { ["levels": .integer($0)] } ?? [:])]
        case "threshold": return [ChainStep("threshold", threshold.map { ["level": .number($0)] } ?? [:])]
        case "none": return []
        default: throw RecipeError.unknownSeedEffect(name)
        }
    }

    /// The values the seed's `effect` input takes.
    public static let seedEffects = ["posterize", "threshold", "none"]
}
