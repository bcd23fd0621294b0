import Foundation
import MediaIO
import TestSupport
import Testing
@testable import Pipeline

/// Shapes of real files: broadcast timestamps, audio without a layout, codecs a container takes only
/// as experimental, timecodes, HDR. Every clip is made here by the ffmpeg CLI.
@Suite struct RealWorldTests {
    /// A clip with audio whose timestamps start `offset` seconds in (MPEG-TS can start anywhere).
    func transportStream(_ path: String, seconds: Double, offset: Double) throws {
        try Media.make(path, seconds: seconds, audio: true,
                       args: ["-c:v", "libx264", "-preset", "ultrafast", "-output_ts_offset", String(offset)])
    }

    func startTimes(_ p: Media.Probe) -> (video: Double, audio: Double) {
        (Double(p.video?.start_time ?? "") ?? .nan, Double(p.audio.first?.start_time ?? "") ?? .nan)
    }

    @Test func timestampsFarFromZeroStartAtZeroKeepingTheAudioOffset() throws {
        let dir = try Scratch()
        let input = dir.path("capture.ts"), output = dir.path("out.mp4")
        try transportStream(input, seconds: 2, offset: 3600)
        let source = try Media.probe(input)
        #expect(source.startTime > 3600)
        try process(input, output)
        let out = try Media.probe(output)
        #expect(abs(out.startTime) < 0.001, "starts at \(out.startTime)")
        #expect(abs(out.duration - 2) < 0.1, "lasts \(out.duration) s")
        #expect(out.video?.nb_read_frames == "50")
        let (v, a) = startTimes(source), (ov, oa) = startTimes(out)
        #expect(abs((ov - oa) - (v - a)) < 0.002, "audio/video offset \(ov - oa) against \(v - a) in the source")
        #expect(try Media.frameTimes(output).first.map { abs($0 - ov) < 0.001 } == true)
    }

    @Test func timestampsThatWrapAroundInsideTheFileKeepEveryFrame() throws {
        let dir = try Scratch()
        let input = dir.path("wrap.ts"), output = dir.path("out.mp4")
        // 33-bit MPEG-TS timestamps wrap after 95443.7 s: this clip crosses that point 1.7 s in.
        try transportStream(input, seconds: 4, offset: 95442)
        try process(input, output)
        let out = try Media.probe(output)
        #expect(out.video?.nb_read_frames == "100")
        #expect(abs(out.startTime) < 0.001)
        #expect(abs(out.duration - 4) < 0.1, "lasts \(out.duration) s")
        let times = try Media.frameTimes(output)
        #expect(zip(times, times.dropFirst()).allSatisfy { abs($1 - $0 - 0.04) < 0.002 }, "frames 40 ms apart throughout")
    }

    @Test func aWrittenFileThatWouldPlayWrongIsAFailure() throws {
        let dir = try Scratch()
        // Video 1 hour in: MP4 hides the gap in an edit list, and a player shows an hour of nothing.
        let gap = dir.path("gap.mp4")
        try Media.make(gap, seconds: 1, args: ["-c:v", "libx264", "-preset", "ultrafast", "-output_ts_offset", "3600"])
        #expect(throws: MediaError.self) {
            try Runner.verifyTiming(path: gap, name: "/videos/user.mp4", .init(start: 0, end: 1, tolerance: 0.25))
        }
        do {
            try Runner.verifyTiming(path: gap, name: "/videos/user.mp4", .init(start: 0, end: 1, tolerance: 0.25))
        } catch {
            #expect("\(error)".contains("/videos/user.mp4") && "\(error)".contains("not written"), "\(error)")
        }
        // The same check passes a file that plays as its content says.
        let fine = dir.path("fine.mp4")
        try Media.make(fine, seconds: 1)
        try Runner.verifyTiming(path: fine, name: fine, .init(start: 0, end: 1, tolerance: 0.25))
    }

    /// 4-channel PCM stored with no channel layout (Matroska keeps only the count), as in AVI, WMV and G.711 files.
    func unlabelledPCM(_ path: String, channels: Int) throws {
        let dir = try Scratch()
        let raw = dir.path("raw.pcm")
        try #require(try sh(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "sine=f=440:sample_rate=48000", "-t", "1",
                             "-ac", String(channels), "-f", "s16le", raw]).status == 0)
        let r = try sh(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "s16le",
                        "-ar", "48000", "-ac", String(channels), "-i", raw, "-t", "1", "-c:v", "libx264", "-preset", "ultrafast",
                        "-c:a", "copy", path])
        try #require(r.status == 0, "\(r.err)")
        let layout = try Media.probe(path).audio.first?.channel_layout
        try #require(layout == nil || layout == "unknown", "the source has a layout: \(layout ?? "")")
    }

    @Test(arguments: [3, 4, 6])
    func audioWithoutALayoutGetsTheDefaultLayoutForItsChannels(channels: Int) throws {
        let dir = try Scratch()
        let input = dir.path("pcm.mkv"), output = dir.path("out.mp4")
        try unlabelledPCM(input, channels: channels)
        let r = try process(input, output)
        #expect(r.audioStreams == 1)
        let audio = try #require(try Media.probe(output).audio.first)
        #expect(audio.codec_name == "aac" && audio.channels == channels, "\(audio)")
        #expect(audio.channel_layout != nil && audio.channel_layout != "unknown")
    }

    @Test func audioStreamsAreDescribedInWords() throws {
        let dir = try Scratch()
        let input = dir.path("pcm.mkv")
        try unlabelledPCM(input, channels: 4)
        let file = try InputFile(url: input)
        #expect(AudioRoute.describe(file, 1) == "audio stream #1 (pcm_s16le, 4 channels, no layout)")
    }

    /// FLAC in MP4 is experimental in FFmpeg 5.1 and Opus is refused in MOV: both are re-encoded, while
    /// a container that takes the codec still gets a copy.
    @Test(arguments: [("flac", "mp4", "aac"), ("libopus", "mov", "aac"), ("libopus", "mkv", "opus"), ("flac", "mkv", "flac")])
    func audioIsCopiedOnlyWhereTheMuxerReallyTakesIt(codec: String, container: String, expected: String) throws {
        let dir = try Scratch()
        let input = dir.path("in.mkv"), output = dir.path("out.\(container)")
        try Media.make(input, seconds: 1, audio: true, args: ["-c:v", "libx264", "-preset", "ultrafast", "-c:a", codec])
        let r = try process(input, output)
        let out = try Media.probe(output)
        #expect(out.audio.first?.codec_name == expected)
        #expect(out.video?.nb_read_frames == String(r.framesWritten))
    }

    @Test(arguments: ["mov", "mp4"])
    func timecodeSurvives(container: String) throws {
        let dir = try Scratch()
        let input = dir.path("in.mov"), output = dir.path("out.\(container)")
        try Media.make(input, seconds: 1, args: ["-c:v", "libx264", "-preset", "ultrafast", "-timecode", "01:02:03:04"])
        try process(input, output)
        let out = try Media.probe(output)
        #expect(out.streams.contains { $0.codec_tag_string == "tmcd" && $0.tags?["timecode"] == "01:02:03:04" }, "\(out.streams)")
    }

    /// 10-bit HEVC with PQ transfer, BT.2020 and HDR10 metadata in its SEI, as HDR cameras and grades give.
    func hdrClip(_ path: String) throws {
        try Media.make(path, seconds: 1, args: [
            "-c:v", "libx265", "-pix_fmt", "yuv420p10le", "-color_primaries", "bt2020", "-color_trc", "smpte2084",
            "-colorspace", "bt2020nc", "-x265-params",
            "log-level=error:hdr10=1:master-display=G(13250,34500)B(7500,3000)R(34000,16000)WP(15635,16450)L(10000000,1):max-cll=1000,400",
        ])
    }

    @Test func hdrKeepsTenBitsTagsAndMetadataInHEVC() throws {
        let dir = try Scratch()
        let input = dir.path("hdr.mp4"), output = dir.path("out.mp4")
        try hdrClip(input)
        try process(input, output, codec: "libx265")
        let v = try #require(try Media.probe(output).video)
        #expect(v.pix_fmt == "yuv420p10le" && v.color_transfer == "smpte2084" && v.color_primaries == "bt2020")
        let frame = try Media.firstFrame(output)
        #expect(frame.contains("max_luminance=10000000/10000") && frame.contains("max_content=1000") && frame.contains("max_average=400"),
                "\(frame)")
        #expect(frame.contains("red_x=34000/50000") && frame.contains("white_point_y=16450/50000"), "\(frame)")
    }

    @Test func hdrMetadataGoesIntoTheMatroskaHeaderForOtherEncoders() throws {
        let dir = try Scratch()
        let input = dir.path("hdr.mp4"), output = dir.path("out.mkv")
        try hdrClip(input)
        var notes: [String] = []
        var req = ProcessRequest(input: input, output: output)
        req.outputCodec = "libx264"
        req.preset = "ultrafast"
        _ = try Runner(request: req, onLog: { notes.append($0) }).run()
        let r = try sh(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_streams", output])
        #expect(r.out.contains("pix_fmt=yuv420p10le") && r.out.contains("color_transfer=smpte2084"))
        #expect(r.out.contains("Mastering display metadata") && r.out.contains("max_content=1000"), "\(r.out)")
        #expect(notes.contains { $0.contains("HDR (PQ) source kept in 10 bits") }, "\(notes)")
    }

    @Test func hdrSqueezedIntoEightBitsIsSaidPlainly() throws {
        let dir = try Scratch()
        let input = dir.path("hdr.mp4"), output = dir.path("out.mp4")
        try hdrClip(input)
        let r = try process(input, output) { $0.pixelFormat = "yuv420p" }
        #expect(r.warnings.contains { $0.contains("HDR (PQ)") && $0.contains("8-bit") }, "\(r.warnings)")
        let v = try #require(try Media.probe(output).video)
        #expect(v.pix_fmt == "yuv420p" && v.color_transfer == "smpte2084")
    }
}

extension RealWorldTests {
    /// A broadcast capture whose programme lists an audio stream that never sends a packet.
    @Test func anAudioStreamWithNothingInItIsLeftOutWithAWarning() throws {
        let dir = try Scratch()
        let input = dir.path("capture.ts"), output = dir.path("out.mp4")
        let r = try sh(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25", "-f", "lavfi",
                        "-t", "0.001", "-i", "anullsrc=r=48000", "-map", "0:v", "-map", "1:a", "-t", "2", "-c:v", "libx264",
                        "-preset", "ultrafast", "-c:a", "mp2", "-af", "atrim=end=0", input])
        try #require(r.status == 0, "\(r.err)")
        try #require(try Media.probe(input).audio.first?.channels == 0)
        let result = try process(input, output)
        #expect(result.audioStreams == 0)
        #expect(result.warnings.contains { $0.contains("audio stream #1") && $0.contains("no decodable audio") }, "\(result.warnings)")
        #expect(try Media.probe(output).video?.nb_read_frames == "50")
    }
}

extension RealWorldTests {
    /// Broadcast and camcorder video is often interlaced: the output keeps its field order, so players
    /// still deinterlace it, and x264 encodes it as interlaced.
    @Test(arguments: [("mp4", "libx264"), ("mkv", "libx265")])
    func interlacedVideoKeepsItsFieldOrder(container: String, codec: String) throws {
        let dir = try Scratch()
        let input = dir.path("interlaced.mp4"), output = dir.path("out.\(container)")
        try Media.make(input, seconds: 1, args: ["-c:v", "libx264", "-preset", "ultrafast", "-flags", "+ildct+ilme", "-top", "1"])
        let field = { (p: String) in try sh(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "stream=field_order",
                                             "-of", "csv=p=0", p]).out.trimmingCharacters(in: .whitespacesAndNewlines) }
        try #require(try field(input) == "tt")
        try process(input, output, codec: codec)
        #expect(try field(output) == "tt")
    }

    /// A stream that changes size mid-way (two encodes joined, as a broadcast capture or a cut stream
    /// can be): the output keeps the first size, the later frames scaled to it, as the ffmpeg CLI does,
    /// through a step that takes the frames as they come (hflip) and a colour step; the job says so.
    @Test(arguments: ["flip", "flip | posterize:levels=200"])
    func aStreamThatChangesSizeMidWayKeepsTheFirstSize(chain: String) throws {
        let dir = try Scratch()
        for (name, size) in [("a.h264", "320x240"), ("b.h264", "480x360")] {
            try Media.make(dir.path(name), video: "testsrc2=size=\(size):rate=25", seconds: 1,
                           args: ["-c:v", "libx264", "-bf", "0", "-pix_fmt", "yuv420p"])
        }
        let joined = try Data(contentsOf: URL(fileURLWithPath: dir.path("a.h264"))) + Data(contentsOf: URL(fileURLWithPath: dir.path("b.h264")))
        try joined.write(to: URL(fileURLWithPath: dir.path("ab.h264")))
        let input = dir.path("ab.mkv"), output = dir.path("out.mkv"), peer = dir.path("peer.mkv")
        try #require(try sh(["ffmpeg", "-v", "error", "-i", dir.path("ab.h264"), "-c", "copy", input]).status == 0)
        let r = try sh([vfxBinary, "process", input, "-o", output, "--chain", chain, "--output-codec", "libx264", "--crf", "0"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("the video changes from 320x240 to 480x360 at 1.000 s; its frames from there on are scaled to 320x240"), "\(r.err)")
        let sizes = try sh(["ffprobe", "-v", "error", "-show_entries", "frame=width,height", "-of", "csv=p=0", output]).out
        #expect(sizes.split(separator: "\n").filter { !$0.isEmpty }
            .map { $0.trimmingCharacters(in: CharacterSet(charactersIn: ",")) } == Array(repeating: "320,240", count: 50))
        // Frame for frame against ffmpeg's hflip of the same file: the same pictures (its scaler's flags differ a little).
        try #require(try sh(["ffmpeg", "-v", "error", "-i", input, "-vf", "hflip", "-c:v", "libx264", "-crf", "0", peer]).status == 0)
        let stats = dir.path("psnr.txt")
        try #require(try sh(["ffmpeg", "-v", "error", "-i", output, "-i", peer, "-lavfi", "[0:v][1:v]psnr=stats_file=\(stats)", "-f", "null", "-"]).status == 0)
        let perFrame = try String(contentsOfFile: stats, encoding: .utf8).split(separator: "\n").compactMap { line -> Double? in
            line.split(separator: " ").first { $0.hasPrefix("psnr_avg:") }.map { Double($0.dropFirst(9)) ?? .infinity }
        }
        #expect(perFrame.count == 50)
        let floor = chain.contains("posterize") ? 30.0 : 50.0
        #expect(perFrame.allSatisfy { $0 > floor }, "\(perFrame)")
    }

}
