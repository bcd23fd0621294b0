#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MediaIO

// The checks a job makes around its transcode: the written file's timing, the request's limits, and
// what an HDR source needs.
extension Runner {
    /// Opens the written file as a player would and fails when its start or end is off from the
    /// content's by more than `tolerance` seconds (a gap hidden in an edit list, frames cut off).
    static func verifyTiming(path: String, name: String, _ expected: TimingExpectation) throws {
        let expectedStart = expected.start, expectedEnd = expected.end, tolerance = expected.tolerance
        let written = try InputFile(url: path, name: name, options: InputOptions(protocolWhitelist: "file"))
        let start = written.startSeconds
        guard let duration = written.duration else { return }
        if abs(start - expectedStart) > tolerance || abs(start + duration - expectedEnd) > tolerance {
            throw MediaError.timingMismatch(output: name, expectedStart: expectedStart, expectedEnd: expectedEnd,
                                            start: start, end: start + duration)
        }
    }

    /// Throws when a known size, length or frame count is over the request's limits.
    func checkLimits(width: Int? = nil, height: Int? = nil, duration: Double?, frames: Int?, name: String) throws {
        try request.limits.check(width: width, height: height, duration: duration, frames: frames, name: name)
    }

    // MARK: - HDR

    /// The pixel format encoder `name` gets: the one asked for; by default 8-bit 4:2:0, or for an HDR
    /// source 10-bit 4:2:0 where the encoder writes it.
    func pixelFormat(for name: String, hdr: Bool) -> PixelFormat {
        if let asked = request.pixelFormat, let f = PixelFormat(named: asked) { return f }
        guard hdr else { return .yuv420p }
        let supported = PixelFormat.supported(byEncoder: name)
        return [PixelFormat.yuv420p10le, .p010le].first { supported.contains($0) } ?? .yuv420p
    }

    /// Says what happened to an HDR source: kept in 10 bits, or squeezed into 8 (and why).
    func reportHDR(_ transfer: String, format: PixelFormat, encoder: String, container: OutputContainer,
                   metadata: HDRMetadata?, warn: (String) -> Void) {
        let name = format.name
        if format.bitDepth >= 10 {
            var line = "note: HDR (\(transfer)) source kept in 10 bits (\(name)) with its colour tags"
            if metadata != nil {
                let entry = OutputCatalogue.encoder(named: encoder)
                let carriers = [entry?.writesHDRMetadata == true ? "the \(entry!.format.uppercased()) stream" : nil,
                                container == .mkv ? "the Matroska header" : nil].compactMap { $0 }
                let writers = OutputCatalogue.encoders.filter(\.writesHDRMetadata).map(\.name) + [".mkv"]
                line += carriers.isEmpty
                    ? "; its mastering-display and light-level metadata is not written by \(encoder) into .\(container.fileExtension) (use \(writers.joined(separator: " or ")) to keep it)"
                    : " and its mastering-display and light-level metadata in \(carriers.joined(separator: " and "))"
            }
            onLog(line)
        } else if request.pixelFormat != nil {
            warn("HDR (\(transfer)) source written as 8-bit \(name) as asked: the \(transfer) tags are kept, but 8 bits band "
                 + "visibly; leave the pixel format unset (or pick yuv420p10le) to keep 10 bits")
        } else {
            warn("HDR (\(transfer)) source written as 8-bit \(name): \(encoder) cannot write 10-bit video; the \(transfer) tags are "
                 + "kept; pick libx265 (or libsvtav1) as the output codec to keep 10 bits")
        }
    }
}

extension MediaLimits {
    /// Throws naming the limit when a known size, length or frame count is over it.
    public func check(width: Int? = nil, height: Int? = nil, duration: Double?, frames: Int?, name: String) throws {
        func over(_ limit: String, _ value: String, _ maximum: String) -> MediaError {
            .limitExceeded(input: name, limit: limit, value: value, maximum: maximum)
        }
        if let w = width, let m = maxWidth, w > m { throw over("max_width", "a width of \(w) pixels", "\(m)") }
        if let h = height, let m = maxHeight, h > m { throw over("max_height", "a height of \(h) pixels", "\(m)") }
        if let w = width, let h = height, let m = maxPixels, w * h > m {
            throw over("max_pixels", "\(w)x\(h) (\(w * h) pixels a frame)", "\(m)")
        }
        if let d = duration, let m = maxDuration, d > m { throw over("max_duration", "a duration of \(d.fixed(1)) s", "\(m.fixed(0)) s") }
        if let f = frames, let m = maxFrames, f > m { throw over("max_frames", "\(f) frames", "\(m)") }
    }
}
