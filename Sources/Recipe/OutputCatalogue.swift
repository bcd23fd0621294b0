import Synchronization

/// What VideoFX writes, as data and without FFmpeg: the containers, the encoders and the defaults.
/// CLI help, validation, the API schema, manifest checks, output names and `vfx compare`'s ladders all
/// derive from it; MediaIO only turns an entry into FFmpeg options. Adding an encoder or a container is
/// one entry here and its test.
public enum OutputCatalogue {
    /// The containers, by file extension.
    public static var containers: [OutputContainer] { registry.withLock { $0.containers } }
    /// The encoders offered as output codecs.
    public static var encoders: [OutputEncoder] { registry.withLock { $0.encoders } }

    /// The default output codec, as in the original predictor.
    public static let defaultCodec = "h264_nvenc"
    /// The default constant quality (CRF or the encoder's equivalent); lower is better.
    public static let defaultQuality = 19

    /// The lossless encoder of intermediate files (`vfx compare`'s reference): not an output codec,
    /// but ``encoder(named:)`` knows it.
    public static let lossless = OutputEncoder(
        name: "ffv1", format: "ffv1", quality: .init(option: nil, range: 0...0), privateOptions: [("level", "3")],
        codecOptions: [("slices", "4")])

    public static func encoder(named name: String) -> OutputEncoder? {
        encoders.first { $0.name == name } ?? (name == lossless.name ? lossless : nil)
    }

    public static func container(extension ext: String) -> OutputContainer? {
        containers.first { $0.fileExtension == ext.lowercased() }
    }

    /// The container an output of this bitstream format gets when its name does not say: the first
    /// container that lists the format among its own (WebM for VP9), else MP4.
    public static func preferredContainer(forVideoFormat format: String) -> OutputContainer {
        containers.first { $0.videoFormats?.contains(format) == true } ?? .mp4
    }

    /// Every quality value some encoder takes (a codec's own range is checked with the codec).
    public static var qualityBounds: ClosedRange<Int> {
        let all = encoders.map(\.quality.range)
        return (all.map(\.lowerBound).min() ?? 0)...(all.map(\.upperBound).max() ?? 0)
    }

    /// The quality values each encoder takes, grouped: "0...51 for h264, hevc; 0...63 for av1, vp9".
    public static var qualityRangesText: String {
        var byRange: [(ClosedRange<Int>, [String])] = []
        for e in encoders {
            if let i = byRange.firstIndex(where: { $0.0 == e.quality.range }) {
                if !byRange[i].1.contains(e.format) { byRange[i].1.append(e.format) }
            } else {
                byRange.append((e.quality.range, [e.format]))
            }
        }
        return byRange.sorted { $0.0.upperBound < $1.0.upperBound }
            .map { "\($0.0.lowerBound)...\($0.0.upperBound) for \($0.1.joined(separator: ", "))" }.joined(separator: "; ")
    }

    /// Adds an encoder (tests add a fake one and see it in every derived place).
    public static func register(_ encoder: OutputEncoder) {
        registry.withLock {
            $0.encoders.removeAll { $0.name == encoder.name }
            $0.encoders.append(encoder)
        }
    }

    /// Removes an encoder added by ``register(_:)``.
    public static func unregister(_ name: String) { registry.withLock { $0.encoders.removeAll { $0.name == name } } }

    private struct Registry: Sendable { var containers: [OutputContainer]; var encoders: [OutputEncoder] }
    private static let registry = Mutex(Registry(containers: OutputContainer.all, encoders: OutputEncoder.all))
}

/// One output container.
public struct OutputContainer: Sendable, Hashable, CustomStringConvertible {
    /// The file extension that picks it (`mp4`).
    public let fileExtension: String
    /// FFmpeg's muxer name.
    public let muxer: String
    public let mimeType: String
    /// Its name in messages (`WebM`).
    public let label: String
    /// The video bitstream formats it holds; nil: every format the encoders write.
    public let videoFormats: [String]?
    /// The audio encoder for input audio it cannot take as it is.
    public let audioEncoder: String
    /// Index at the front (MP4 and MOV `faststart`).
    public let fastStart: Bool

    public var description: String { label }

    public static func == (a: OutputContainer, b: OutputContainer) -> Bool { a.fileExtension == b.fileExtension }
    public func hash(into h: inout Hasher) { h.combine(fileExtension) }

    /// Whether it can hold video of a bitstream format.
    public func allows(videoFormat: String) -> Bool { videoFormats?.contains(videoFormat) ?? true }

    public init(fileExtension: String, muxer: String, mimeType: String, label: String, videoFormats: [String]? = nil,
                audioEncoder: String = "aac", fastStart: Bool = false) {
        self.fileExtension = fileExtension; self.muxer = muxer; self.mimeType = mimeType; self.label = label
        self.videoFormats = videoFormats; self.audioEncoder = audioEncoder; self.fastStart = fastStart
    }

    public static let mp4 = OutputContainer(fileExtension: "mp4", muxer: "mp4", mimeType: "video/mp4", label: "MP4", fastStart: true)
    public static let mov = OutputContainer(fileExtension: "mov", muxer: "mov", mimeType: "video/quicktime", label: "MOV", fastStart: true)
    public static let mkv = OutputContainer(fileExtension: "mkv", muxer: "matroska", mimeType: "video/x-matroska", label: "Matroska")
    public static let webm = OutputContainer(fileExtension: "webm", muxer: "webm", mimeType: "video/webm", label: "WebM",
                                             videoFormats: ["vp9", "av1"], audioEncoder: "libopus")
    static let all: [OutputContainer] = [.mp4, .mov, .mkv, .webm]
}

/// One encoder VideoFX offers, with everything needed to turn a recipe's settings into its options.
public struct OutputEncoder: Sendable, Equatable {
    public enum Device: String, Sendable, Codable { case cpu, nvidia }

    /// How the encoder takes constant quality: the option's name and the values it accepts.
    public struct Quality: Sendable, Equatable {
        /// The private option (`crf`, `cq`); nil for encoders without one.
        public let option: String?
        public let range: ClosedRange<Int>
        /// Whether the bitrate must be 0 for the quality to rule (libvpx, libaom, NVENC).
        public let zeroBitrate: Bool
        public init(option: String?, range: ClosedRange<Int>, zeroBitrate: Bool = false) {
            self.option = option; self.range = range; self.zeroBitrate = zeroBitrate
        }
    }

    /// FFmpeg's encoder name (`--output-codec`).
    public let name: String
    /// The bitstream format: h264, hevc, av1 or vp9.
    public let format: String
    public let device: Device
    public let quality: Quality
    /// The private option the preset goes to (`preset`, `cpu-used`), the presets it takes (nil: any),
    /// and the one used when none is given (nil: the encoder's own default).
    public let presetOption: String
    public let presets: [String]?
    public let defaultPreset: String?
    /// CPU encoders of the same format to try, in order, when this one cannot open.
    public let fallbacks: [String]
    /// The stretch of its quality scale that spans useful encodes (`vfx compare`'s default ladder).
    public let ladder: ClosedRange<Int>
    /// Options always set: the encoder's own, and the codec context's.
    public let privateOptions: [Option]
    public let codecOptions: [Option]
    /// Writes HDR10 metadata into its bitstream when given it (x265).
    public let writesHDRMetadata: Bool
    /// Encodes interlaced sources as interlaced (x264).
    public let encodesInterlaced: Bool

    public struct Option: Sendable, Equatable {
        public let key: String, value: String
    }

    public var isHardware: Bool { device != .cpu }

    public init(name: String, format: String, device: Device = .cpu, quality: Quality, presetOption: String = "preset",
                presets: [String]? = nil, defaultPreset: String? = nil, fallbacks: [String] = [], ladder: ClosedRange<Int> = 0...0,
                privateOptions: [(String, String)] = [], codecOptions: [(String, String)] = [], writesHDRMetadata: Bool = false,
                encodesInterlaced: Bool = false) {
        self.name = name; self.format = format; self.device = device; self.quality = quality
        self.presetOption = presetOption; self.presets = presets; self.defaultPreset = defaultPreset
        self.fallbacks = fallbacks; self.ladder = ladder
        self.privateOptions = privateOptions.map { Option(key: $0.0, value: $0.1) }
        self.codecOptions = codecOptions.map { Option(key: $0.0, value: $0.1) }
        self.writesHDRMetadata = writesHDRMetadata; self.encodesInterlaced = encodesInterlaced
    }

    /// Whether `preset` means something to this encoder (a fallback drops one that does not).
    public func takes(preset: String) -> Bool { presets?.contains(preset) ?? true }

    static let x26xPresets = ["ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo"]
    static let nvencPresets = ["p1", "p2", "p3", "p4", "p5", "p6", "p7", "fast", "medium", "slow", "hp", "hq", "ll", "llhq", "llhp", "lossless"]
    static let nvenc = Quality(option: "cq", range: 0...51, zeroBitrate: true)

    static let all: [OutputEncoder] = [
        OutputEncoder(name: "h264_nvenc", format: "h264", device: .nvidia, quality: nvenc, presets: nvencPresets, defaultPreset: "p4",
                      fallbacks: ["libx264"], ladder: 20...38, privateOptions: [("rc", "vbr")]),
        OutputEncoder(name: "av1_nvenc", format: "av1", device: .nvidia, quality: Quality(option: "cq", range: 0...63, zeroBitrate: true),
                      presets: nvencPresets, defaultPreset: "p4", fallbacks: ["libsvtav1", "libaom-av1"], ladder: 24...56,
                      privateOptions: [("rc", "vbr")]),
        OutputEncoder(name: "hevc_nvenc", format: "hevc", device: .nvidia, quality: nvenc, presets: nvencPresets, defaultPreset: "p4",
                      fallbacks: ["libx265"], ladder: 20...38, privateOptions: [("rc", "vbr")]),
        OutputEncoder(name: "libx264", format: "h264", quality: Quality(option: "crf", range: 0...51), presets: x26xPresets,
                      defaultPreset: "medium", ladder: 18...36, encodesInterlaced: true),
        OutputEncoder(name: "libsvtav1", format: "av1", quality: Quality(option: "crf", range: 0...63), presets: (-2...13).map(String.init),
                      defaultPreset: "8", fallbacks: ["libaom-av1"], ladder: 24...56),
        OutputEncoder(name: "libaom-av1", format: "av1", quality: Quality(option: "crf", range: 0...63, zeroBitrate: true),
                      presetOption: "cpu-used", presets: (0...8).map(String.init), defaultPreset: "6", ladder: 24...56),
        OutputEncoder(name: "libx265", format: "hevc", quality: Quality(option: "crf", range: 0...51), presets: x26xPresets,
                      defaultPreset: "medium", ladder: 20...38, privateOptions: [("x265-params", "log-level=error")], writesHDRMetadata: true),
        OutputEncoder(name: "libvpx-vp9", format: "vp9", quality: Quality(option: "crf", range: 0...63, zeroBitrate: true),
                      presetOption: "cpu-used", presets: (-8...8).map(String.init), defaultPreset: "4", ladder: 24...56,
                      privateOptions: [("row-mt", "1")]),
    ]
}
