import MediaIO

/// A description of a media file for `vfx probe`.
public struct MediaInfo: Sendable, Codable, Equatable {
    public var input: String
    public var format: String
    public var duration: Double?
    public var videoStream: Int?
    public var streams: [StreamInfo]

    /// Opens and describes `input` without decoding it.
    public static func probe(_ input: String, options: InputOptions = InputOptions()) throws -> MediaInfo {
        let file = try InputFile(url: try InputLocation.resolve(input), options: options)
        return MediaInfo(input: input, format: file.formatName, duration: file.duration,
                         videoStream: try? file.bestVideoStream(),
                         streams: (0..<file.streamCount).map { file.info(stream: $0) })
    }
}
