import CFFmpeg

/// Decodes the main video stream of a file frame by frame, in presentation order.
public final class VideoFrameReader {
    public let input: InputFile
    private let decoder: Decoder
    private let stream: Int
    private let packet: Packet
    private var inputEnded = false
    private var decoderEnded = false

    /// Opens `path` (messages call it `name`) and its best video stream.
    public init(path: String, name: String? = nil, threads: Int = 0, cancellation: CancellationFlag = CancellationFlag()) throws {
        input = try InputFile(url: path, name: name, cancellation: cancellation)
        stream = try input.bestVideoStream()
        decoder = try Decoder(input: input, stream: stream, threads: threads)
        packet = try Packet()
    }

    /// Decodes the next frame into `frame`; false once the stream has ended. Corrupt packets are skipped.
    public func next(into frame: Frame) throws -> Bool {
        frame.unref()
        while !decoderEnded {
            switch try decoder.receive(into: frame) {
            case .value: return true
            case .endOfStream: decoderEnded = true; return false
            case .needsInput: break
            }
            if inputEnded { _ = try decoder.send(nil); continue }
            switch try input.read(into: packet) {
            case .packet:
                defer { packet.unref() }
                if packet.streamIndex == stream { _ = try decoder.send(packet) }
            case .endOfFile, .corrupt:
                inputEnded = true
            }
        }
        return false
    }
}
