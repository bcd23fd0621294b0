import CFFmpeg

/// Joins the video streams of several files end to end without re-encoding.
public enum VideoConcatenation {
    /// Writes the video of `parts`, one after another, into `output` (Matroska). The parts must hold the
    /// same codec with the same parameters and each begin on a keyframe (segments one job wrote).
    public static func join(_ parts: [String], into output: String, name: String? = nil) throws {
        guard let firstPath = parts.first else { throw MediaError.noFramesDecoded(name ?? output) }
        let first = try InputFile(url: firstPath)
        let file = try OutputFile(path: output, name: name, formatName: "matroska")
        let index = try file.addCopiedStream(from: first, stream: try first.bestVideoStream())
        try file.writeHeader(fastStart: false)
        let timeBase = file.timeBase(ofStream: index)
        let packet = try Packet()
        var end: Int64 = 0
        for (n, path) in parts.enumerated() {
            let input = n == 0 ? first : try InputFile(url: path)
            let stream = try input.bestVideoStream()
            let source = input.stream(stream).pointee.time_base
            var offset: Int64?
            var partEnd = end
            while case .packet = try input.read(into: packet) {
                defer { packet.unref() }
                guard packet.streamIndex == stream else { continue }
                packet.rescale(from: source, to: timeBase)
                let p = packet.pointer.pointee
                let start = p.dts != vfx_nopts() ? p.dts : p.pts
                if offset == nil { offset = end - (start == vfx_nopts() ? 0 : start) }
                packet.shift(by: -offset!)
                packet.pointer.pointee.stream_index = Int32(index)
                if let pts = packet.pts { partEnd = max(partEnd, pts + max(packet.duration, 1)) }
                try file.write(packet, timeBase: timeBase)
            }
            end = partEnd
        }
        try file.finish()
    }
}
