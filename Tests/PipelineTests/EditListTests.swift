import Foundation
import TestSupport
import Testing
@testable import Pipeline

/// Edit lists as a player applies them: what `ffprobe` shows of the input is what comes out.
@Suite struct EditListTests {
    /// Mean absolute difference of two RGB frames.
    func difference(_ a: [UInt8], _ b: [UInt8]) -> Double {
        guard a.count == b.count, !a.isEmpty else { return .infinity }
        return Double(zip(a, b).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(a.count)
    }

    /// 4 s at 25 fps with a keyframe every 0.6 s (15 frames) and a tone.
    func source(_ dir: Scratch) throws -> String {
        let path = dir.path("full.mp4")
        try Media.make(path, video: "testsrc2=size=320x240:rate=25", seconds: 4, audio: true,
                       args: ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-g", "15", "-keyint_min", "15",
                              "-sc_threshold", "0", "-c:a", "aac"])
        return path
    }

    /// `ffmpeg -ss S -i in -t D -c copy`: the frames from the keyframe before S are kept for decoding
    /// and hidden by the edit list; the output shows exactly what a player shows of the cut.
    @Test(arguments: [(1.7, 1.5), (1.2, 1.5)])
    func streamCopyCut(at start: Double, length: Double) throws {
        let dir = try Scratch()
        let full = try source(dir)
        let cut = dir.path("cut.mp4")
        let r = try sh(["ffmpeg", "-v", "error", "-ss", String(start), "-i", full, "-t", String(length), "-c", "copy", cut])
        try #require(r.status == 0, "\(r.err)")
        let input = try Media.probe(cut)
        let out = dir.path("out.mp4")
        let result = try process(cut, out, chain: "")
        let output = try Media.probe(out)
        #expect(result.warnings.isEmpty, "\(result.warnings)")
        #expect(output.video?.nb_read_frames == input.video?.nb_read_frames)
        #expect(output.startTime == 0)
        let inTimes = try Media.frameTimes(cut), outTimes = try Media.frameTimes(out)
        #expect(inTimes.count == outTimes.count)
        for (a, b) in zip(inTimes, outTimes) { #expect(abs(a - b) < 0.001, "frame at \(b) s where the input shows it at \(a) s") }
        #expect(abs(output.duration - Double(input.video?.duration ?? "0")!) <= 0.041, "\(output.duration)")
        #expect(output.audio.count == 1 && abs(Double(output.audio[0].start_time ?? "9")!) < 0.001)
        // The first frame shown is the one at the cut's start, not the keyframe the cut decodes from.
        let shownIndex = Int((start * 25).rounded(.up)), keyIndex = Int(start / 0.6) * 15
        let first = try Media.rgbFrame(out)
        let atStart = difference(first, try Media.rgbFrame(full, index: shownIndex))
        #expect(atStart < 3, "first frame differs from the cut's start by \(atStart)")
        if keyIndex != shownIndex {
            #expect(difference(first, try Media.rgbFrame(full, index: keyIndex)) > atStart + 3)
        }
    }

    /// An empty edit delays the audio: it stays half a second after the picture.
    @Test func delayedAudioKeepsItsDelay() throws {
        let dir = try Scratch()
        let delayed = dir.path("delayed.mp4")
        let r = try sh(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-itsoffset", "0.5",
                        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-t", "2", "-c:v", "libx264", "-preset", "ultrafast",
                        "-c:a", "aac", "-map", "0:v", "-map", "1:a", "-shortest", delayed])
        try #require(r.status == 0, "\(r.err)")
        let input = try Media.probe(delayed)
        let inputAudioStart = Double(input.audio.first?.start_time ?? "0")!
        try #require(inputAudioStart > 0.4, "the fixture's audio starts at \(inputAudioStart)")
        for (name, chain) in [("copy.mp4", ""), ("encoded.webm", "")] {
            let out = dir.path(name)
            _ = try process(delayed, out, chain: chain, codec: name.hasSuffix("webm") ? "libvpx-vp9" : "libx264") {
                if name.hasSuffix("webm") { $0.preset = "8"; $0.quality = 50 }
            }
            let output = try Media.probe(out)
            #expect(output.video?.nb_read_frames == input.video?.nb_read_frames)
            let audioStart = Double(output.audio.first?.start_time ?? "0")!
            #expect(abs(audioStart - inputAudioStart) < 0.03, "\(name): audio starts at \(audioStart), the input's at \(inputAudioStart)")
        }
    }

    /// B-frames delay the first picture in decode order; the edit list hides that, and so does the output.
    @Test func bFrameDelayIsHidden() throws {
        let dir = try Scratch()
        let input = dir.path("bframes.mp4")
        try Media.make(input, seconds: 2, audio: true, args: ["-c:v", "libx264", "-preset", "medium", "-bf", "3", "-c:a", "aac"])
        let before = try Media.probe(input)
        let out = dir.path("out.mp4")
        _ = try process(input, out, chain: "invert")
        let after = try Media.probe(out)
        #expect(after.video?.nb_read_frames == before.video?.nb_read_frames)
        #expect(after.startTime == before.startTime)
        #expect(abs(after.duration - before.duration) < 0.05)
        #expect(try Media.frameTimes(out) == Media.frameTimes(input))
    }
}
