import Foundation
import Testing
import TestSupport

/// A decoding device that fails mid-stream is replaced by the CPU decoder without losing or repeating
/// a frame. No device here: the test fault (`VFX_TEST_DECODER_FAULT`) makes the decoder fail as NVDEC
/// does (a failed call, AVERROR_EXTERNAL) at a chosen frame or packet, through the same takeover.
@Suite struct DecoderTakeoverTests {
    /// 4 s at 25 fps, a keyframe each second, B-frames (x264: a pyramid; x265: open groups of pictures).
    static let sources: [(name: String, args: [String])] = [
        ("h264.mp4", ["-c:v", "libx264", "-preset", "medium", "-g", "25", "-bf", "3", "-pix_fmt", "yuv420p"]),
        ("hevc.mp4", ["-c:v", "libx265", "-x265-params", "keyint=25:open-gop=1:bframes=4:log-level=error", "-pix_fmt", "yuv420p"]),
    ]

    private func run(_ input: String, _ output: String, fault: String? = nil, chain: String? = nil) throws -> (status: Int32, out: String, err: String) {
        let env = fault.map { ["VFX_TEST_DECODER_FAULT=\($0)"] } ?? []
        return try sh(env + [vfxBinary, "process", input, "-o", output, "--output-codec", "libx264", "--crf", "0"]
                      + (chain.map { ["--chain", $0] } ?? []))
    }

    @Test(arguments: [0, 1])
    func everyFrameSurvivesTheTakeover(source: Int) throws {
        let dir = try Scratch()
        let (name, args) = Self.sources[source]
        let input = dir.path(name)
        try Media.make(input, video: "testsrc2=size=320x240:rate=25", seconds: 4, args: args)
        let reference = dir.path("reference.mkv")
        let plain = try run(input, reference)
        try #require(plain.status == 0, "\(plain.err)")
        let expected = try StreamCheck.frames(reference)
        #expect(expected.count == 100)
        #expect(!plain.err.contains("took over"), "\(plain.err)")
        // The first frame, mid-group, the last (while draining), the first packet, a packet mid-group.
        let faults = [("frame:0", "0.000"), ("frame:37", "0.000"), ("frame:99", "2.000"), ("packet:1", "0.000"), ("packet:30", "0.000")]
        for (fault, keyframe) in faults {
            let out = dir.path("out.mkv")
            let r = try run(input, out, fault: fault)
            #expect(r.status == 0, "\(fault): \(r.err)")
            #expect(r.err.contains("warning: \(input): the decoding device failed after "), "\(fault): \(r.err)")
            #expect(r.err.contains("the CPU decoder took over from the keyframe at \(keyframe) s"), "\(fault): \(r.err)")
            #expect(!r.err.contains("missing"), "\(fault): \(r.err)")
            #expect(try StreamCheck.frames(out) == expected, "\(name) \(fault)")
            #expect(Set(dir.contents) == [name, "reference.mkv", "out.mkv"], "\(dir.contents)")
            try FileManager.default.removeItem(atPath: out)
        }
    }

    /// The real clip, with its audio, through a libavfilter step (its graph set up for the device's NV12
    /// frames, which the CPU decoder's planar frames are converted back to) and the colour pass: the
    /// output is the run without a fault, frame for frame and packet for packet.
    @Test func theRealClipWithItsAudioThroughAFilterGraph() throws {
        let dir = try Scratch()
        let input = SharedMedia.path("cant-keep-getting-away.mp4")
        let reference = dir.path("reference.mkv"), out = dir.path("out.mkv")
        let chain = "flip | posterize:levels=8"
        let plain = try run(input, reference, chain: chain)
        try #require(plain.status == 0, "\(plain.err)")
        let r = try run(input, out, fault: "frame:50", chain: chain)
        #expect(r.status == 0 && r.err.contains("failed after 50 frames"), "\(r.err)")
        #expect(try StreamCheck.frames(out) == StreamCheck.frames(reference))
        #expect(try StreamCheck.frames(out).count == 191)
        #expect(try StreamCheck.audio(out) == StreamCheck.audio(reference))
    }

    /// A group of pictures larger than the replay budget cannot be decoded again: the CPU decoder starts at
    /// the next keyframe, the frames between are missing and the warning says which; the job still ends.
    @Test func pastTheReplayBudgetTheFramesUpToTheNextKeyframeAreMissingAndSaidSo() throws {
        let dir = try Scratch()
        let (name, args) = Self.sources[0]
        let input = dir.path(name)
        try Media.make(input, video: "testsrc2=size=320x240:rate=25", seconds: 4, args: args)
        let reference = dir.path("reference.mkv"), out = dir.path("out.mkv")
        try #require(try run(input, reference).status == 0)
        let r = try run(input, out, fault: "frame:60,replay-bytes:1")
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("the CPU decoder took over from the next keyframe"), "\(r.err)")
        #expect(r.err.contains("the frames after 2.360 s up to 3.000 s could not be decoded again"), "\(r.err)")
        // Frames 60 to 74 (2.40 s to 2.96 s) are gone; every other frame is the reference's, at its time.
        let expected = try StreamCheck.frames(reference)
        #expect(try StreamCheck.frames(out) == Array(expected[..<60] + expected[75...]))
    }

    /// Once the CPU decoder is past the last frame given, a later jump back in the stream's own times
    /// (two MPEG-TS captures joined, each starting at the same time) is the stream's: nothing is dropped.
    @Test func aJumpBackInTimeAfterTheTakeoverKeepsItsFrames() throws {
        let dir = try Scratch()
        for (name, graph) in [("p1.ts", "testsrc2=size=320x240:rate=25"), ("p2.ts", "testsrc2=size=320x240:rate=25,hflip")] {
            try Media.make(dir.path(name), video: graph, seconds: 2, args: ["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p"])
        }
        let joined = try Data(contentsOf: URL(fileURLWithPath: dir.path("p1.ts"))) + Data(contentsOf: URL(fileURLWithPath: dir.path("p2.ts")))
        let input = dir.path("joined.ts")
        try joined.write(to: URL(fileURLWithPath: input))
        let reference = dir.path("reference.mkv"), out = dir.path("out.mkv")
        try #require(try run(input, reference).status == 0)
        let r = try run(input, out, fault: "frame:30")
        #expect(r.status == 0 && r.err.contains("failed after 30 frames"), "\(r.err)")
        let expected = try StreamCheck.frames(reference)
        #expect(expected.count == 100)
        #expect(try StreamCheck.frames(out) == expected)
    }

}
