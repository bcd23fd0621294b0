import Effects
import Foundation
import MediaIO
import TestSupport
import Testing
@testable import Pipeline

func process(_ input: String, _ output: String, chain: String = "posterize:levels=25", codec: String = "libx264",
             configure: (inout ProcessRequest) -> Void = { _ in }) throws -> ProcessResult {
    var r = ProcessRequest(input: input, output: output)
    r.steps = try Chain.parse(chain)
    r.outputCodec = codec
    r.preset = codec == "libx264" ? "ultrafast" : nil
    configure(&r)
    return try Runner(request: r).run()
}

/// Posterize levels for `levels`.
func levelSet(_ levels: Int) -> [Int] { (0...255).map { Int(Posterize.reference(UInt8($0), levels: levels)) }.uniqued() }
extension Array where Element: Hashable { func uniqued() -> [Element] { var s = Set<Element>(); return filter { s.insert($0).inserted } } }

/// Fraction of RGB values within `tolerance` of one of `levels`.
func fractionNear(_ rgb: [UInt8], _ levels: [Int], tolerance: Int) -> Double {
    guard !rgb.isEmpty else { return 0 }
    let near = rgb.filter { v in levels.contains { abs($0 - Int(v)) <= tolerance } }.count
    return Double(near) / Double(rgb.count)
}

@Suite struct EffectOutputTests {
    // 4:4:4 at CRF 0 is lossless in x264, so decoded pixels show exactly what the effect made.
    static func lossless(_ r: inout ProcessRequest) { r.pixelFormat = "yuv444p"; r.quality = 0 }

    @Test(arguments: ["yuv420p", "yuv422p", "yuv444p", "rgb24"])
    func posterizedOutputDecodesToLevels(sourceFormat: String) throws {
        let dir = try Scratch()
        let input = dir.path("in.mkv")
        try Media.make(input, video: "testsrc2=size=96x64:rate=10", args: ["-c:v", "ffv1", "-pix_fmt", sourceFormat])
        let out = dir.path("out.mkv")
        let result = try process(input, out, chain: "posterize:levels=4") { Self.lossless(&$0) }
        #expect(result.framesWritten == 10)
        let rgb = try Media.rgbFrame(out, index: 3)
        #expect(rgb.count == 96 * 64 * 3)
        // Y'CbCr holds RGB to within rounding; every value must sit by one of the 4 levels.
        #expect(fractionNear(rgb, levelSet(4), tolerance: 3) > 0.99)
        // ... and the picture is not flat: several levels are in use.
        #expect(Set(rgb.map { Int($0) / 40 }).count >= 3)
    }

    /// 4:2:2 sources (camera and MJPEG footage), 10-bit and semi-planar ones into 4:2:0 go through the
    /// fused kernel (after a depth-only conversion for the last two): the picture must match posterizing
    /// the source's RGB, up to 4:2:0's chroma averaging.
    /// ffmpeg's own RGB of the source, the reference here, interpolates chroma for 10-bit and nv12
    /// sources and not for 8-bit planar ones, hence the looser mean there. The paths through swscale to
    /// RGB and back that these replaced scored 5.8 (4:2:2) and 7.3 (4:2:0 10-bit, nv12), and 69-72%.
    @Test(arguments: [("yuv422p", 4.0), ("yuvj422p", 4.0), ("yuv420p10le", 6.5), ("yuv422p10le", 6.5), ("nv12", 6.5)])
    func subsampledOutputMatchesTheSourcePosterized(sourceFormat: String, maxMeanError: Double) throws {
        let dir = try Scratch()
        let input = dir.path("in.mkv")
        // FFV1 has no semi-planar formats; raw video in Matroska keeps nv12 as it is.
        let codec = sourceFormat == "nv12" ? "rawvideo" : "ffv1"
        try Media.make(input, video: "testsrc2=size=128x96:rate=10", args: ["-c:v", codec, "-pix_fmt", sourceFormat])
        #expect(try Media.probe(input).video?.pix_fmt == sourceFormat.replacingOccurrences(of: "yuvj", with: "yuv"))
        let out = dir.path("out.mkv")
        try process(input, out, chain: "posterize:levels=6") { $0.quality = 0 }  // 4:2:0, lossless
        #expect(try Media.probe(out).video?.pix_fmt?.hasSuffix("420p") == true)
        let ours = try Media.rgbFrame(out, index: 5)
        let expected = try Media.rgbFrame(input, index: 5).map { Int(Posterize.reference($0, levels: 6)) }
        try #require(ours.count == expected.count)
        let errors = zip(ours, expected).map { abs(Int($0) - $1) }
        let meanError = Double(errors.reduce(0, +)) / Double(errors.count)
        #expect(meanError < maxMeanError, "mean error \(meanError)")
        // For 4:2:2, ffmpeg + lutrgb scores 3.4 and 81% here.
        #expect(Double(errors.filter { $0 <= 3 }.count) / Double(errors.count) > 0.8)
    }

    @Test func thresholdOutputIsBlackOrFull() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, video: "testsrc2=size=96x64:rate=10")
        let out = dir.path("out.mkv")
        try process(input, out, chain: "threshold:level=0.5") { Self.lossless(&$0) }
        let rgb = try Media.rgbFrame(out, index: 2)
        #expect(fractionNear(rgb, [0, 255], tolerance: 3) > 0.99)
        #expect(rgb.contains { $0 < 10 } && rgb.contains { $0 > 245 })
    }

    @Test func noneEffectKeepsThePicture() throws {
        let dir = try Scratch()
        let input = dir.path("in.mkv")
        try Media.make(input, video: "testsrc2=size=96x64:rate=10", args: ["-c:v", "ffv1", "-pix_fmt", "yuv444p"])
        let out = dir.path("out.mkv")
        try process(input, out, chain: "") { Self.lossless(&$0) }
        let a = try Media.rgbFrame(input, index: 4), b = try Media.rgbFrame(out, index: 4)
        #expect(a.count == b.count)
        #expect(zip(a, b).allSatisfy { abs(Int($0) - Int($1)) <= 1 })
    }

    @Test func posterizeMatchesConvertApplyConvertBack() throws {
        // Compare with the slow way: ffmpeg decodes the source to RGB, the scalar reference posterizes it.
        let dir = try Scratch()
        let input = dir.path("in.mkv")
        try Media.make(input, video: "testsrc2=size=128x96:rate=10", args: ["-c:v", "ffv1", "-pix_fmt", "yuv444p"])
        let ours = dir.path("ours.mkv")
        try process(input, ours, chain: "posterize:levels=6") { Self.lossless(&$0) }
        let a = try Media.rgbFrame(ours, index: 5)
        let srcRGB = try Media.rgbFrame(input, index: 5)
        let expected = srcRGB.map { Posterize.reference($0, levels: 6) }
        let close = zip(a, expected).filter { abs(Int($0) - Int($1)) <= 3 }.count
        #expect(Double(close) / Double(a.count) > 0.98)
    }
}

@Suite struct TimingAndAudioTests {
    @Test func frameCountAndTimestampsAreKept() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, video: "testsrc2=size=160x120:rate=30000/1001", seconds: 2)
        let out = dir.path("out.mp4")
        try process(input, out)
        let a = try Media.frameTimes(input), b = try Media.frameTimes(out)
        #expect(a.count == 60 && b.count == a.count)
        for (x, y) in zip(a, b) { #expect(abs(x - y) < 0.002) }
        let p = try Media.probe(out)
        #expect(p.video?.codec_name == "h264")
        #expect(p.video?.pix_fmt == "yuv420p")
        #expect(abs(p.duration - (try Media.probe(input)).duration) < 1.0 / 29)
    }

    @Test func variableFrameRateStaysVariable() throws {
        let dir = try Scratch()
        let input = dir.path("vfr.mkv")
        // Drop frames irregularly so intervals vary between 1/30 and 3/30 s.
        try Media.make(input, video: "testsrc2=size=160x120:rate=30", seconds: 3,
                       args: ["-vf", "select='not(eq(mod(n\\,5)\\,1))*not(eq(mod(n\\,7)\\,3))'", "-fps_mode", "vfr",
                              "-c:v", "libx264", "-preset", "ultrafast"])
        let out = dir.path("out.mp4")
        try process(input, out)
        let a = try Media.frameTimes(input), b = try Media.frameTimes(out)
        #expect(a.count > 50 && a.count < 90)
        #expect(b.count == a.count)
        for (x, y) in zip(a, b) { #expect(abs(x - y) < 0.002) }
        let intervals = Set(zip(b.dropFirst(), b).map { (($0 - $1) * 30).rounded() })
        #expect(intervals.count >= 2)
    }

    @Test func audioIsCopiedOrReencodedAndCanBeDropped() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, seconds: 2, audio: true)
        let mp4 = dir.path("out.mp4"), webm = dir.path("out.webm"), silent = dir.path("silent.mp4")
        let r = try process(input, mp4)
        #expect(r.audioStreams == 1)
        let p = try Media.probe(mp4)
        #expect(p.audio.first?.codec_name == "aac")
        #expect(abs((Double(p.audio.first?.duration ?? "0") ?? 0) - 2) < 0.1)
        try process(input, webm, codec: "libvpx-vp9") { $0.preset = "8" }
        let w = try Media.probe(webm)
        #expect(w.video?.codec_name == "vp9")
        #expect(w.audio.first?.codec_name == "opus")
        #expect(abs(w.duration - 2) < 0.15)
        try process(input, silent) { $0.keepAudio = false }
        #expect(try Media.probe(silent).audio.isEmpty)
    }
}

@Suite struct FormatTests {
    @Test func oddSizesAreHandled() throws {
        let dir = try Scratch()
        let input = dir.path("odd.mkv")
        try Media.make(input, video: "testsrc2=size=160x120:rate=10", args: ["-vf", "scale=161:121", "-c:v", "ffv1", "-pix_fmt", "yuv444p"])
        let out420 = dir.path("o420.mp4"), out444 = dir.path("o444.mkv")
        try process(input, out420)
        let p = try Media.probe(out420)
        #expect(p.video?.width == 160 && p.video?.height == 120)
        #expect(p.video?.nb_read_frames == "10")
        try process(input, out444) { $0.pixelFormat = "yuv444p" }
        let q = try Media.probe(out444)
        #expect(q.video?.width == 161 && q.video?.height == 121)
    }

    @Test func tenBitOutputOnRequest() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input)
        let out = dir.path("out.mkv")
        try process(input, out) { $0.pixelFormat = "yuv420p10le" }
        #expect(try Media.probe(out).video?.pix_fmt == "yuv420p10le")
    }

    @Test func colourTagsSurvive() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, args: ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
                                     "-color_primaries", "bt709", "-color_trc", "bt709", "-colorspace", "bt709"])
        let out = dir.path("out.mp4")
        try process(input, out)
        let v = try #require(try Media.probe(out).video)
        #expect(v.color_space == "bt709")
        #expect(v.color_primaries == "bt709")
        #expect(v.color_transfer == "bt709")
    }

    @Test func displayRotationSurvives() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input)
        // Write a 90-degree display matrix into the video track header (FFmpeg 5.1's CLI cannot set one).
        var data = try Data(contentsOf: URL(fileURLWithPath: input))
        let tkhd = try #require(data.range(of: Data("tkhd".utf8)))
        #expect(data[tkhd.upperBound] == 0, "version 0 track header")
        let matrix = tkhd.upperBound + 40
        let values: [UInt32] = [0, 0x0001_0000, 0, 0xFFFF_0000, 0, 0, 0, 0, 0x4000_0000]
        for (i, v) in values.enumerated() {
            for b in 0..<4 { data[matrix + i * 4 + b] = UInt8(truncatingIfNeeded: v >> (24 - 8 * UInt32(b))) }
        }
        try data.write(to: URL(fileURLWithPath: input))
        let inRotation = try Media.probe(input).video?.side_data_list?.compactMap(\.rotation).first
        try #require(inRotation != nil, "the patched input should carry a rotation")
        let out = dir.path("out.mp4")
        try process(input, out)
        let outRotation = try Media.probe(out).video?.side_data_list?.compactMap(\.rotation).first
        #expect(outRotation == inRotation)
    }

    @Test(arguments: [
        ("mkv", ["-c:v", "libx264", "-preset", "ultrafast"]),
        ("avi", ["-c:v", "mpeg4"]),
        ("ts", ["-c:v", "libx264", "-preset", "ultrafast"]),
        ("mts", ["-c:v", "libx264", "-preset", "ultrafast", "-f", "mpegts"]),
        ("3gp", ["-c:v", "mpeg4"]),
        ("f4v", ["-c:v", "libx264", "-preset", "ultrafast", "-f", "mp4"]),
        ("flv", ["-c:v", "flv1"]),
        ("m4v", ["-c:v", "mpeg4", "-f", "mp4"]),
        ("wmv", ["-c:v", "wmv2"]),
        ("webm", ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"]),
        ("gif", ["-c:v", "gif"]),
        ("h264", ["-c:v", "libx264", "-preset", "ultrafast", "-f", "h264"]),
        ("hevc", ["-c:v", "libx265", "-preset", "ultrafast", "-f", "hevc", "-x265-params", "log-level=none"]),
        ("mov", ["-c:v", "prores_ks", "-profile:v", "3", "-pix_fmt", "yuv422p10le"]),
    ])
    func everyListedContainerGoesThrough(ext: String, args: [String]) throws {
        let dir = try Scratch()
        // The name lies about the content for a few: the decoder must follow the bytes, not the extension.
        let input = dir.path("clip.\(ext)")
        try Media.make(input, video: "testsrc2=size=128x96:rate=10", args: args + ["-pix_fmt", ext == "mov" ? "yuv422p10le" : (ext == "gif" ? "rgb8" : "yuv420p")])
        let expected = try #require(Int(try Media.probe(input).video?.nb_read_frames ?? ""))
        let out = dir.path("out.mp4")
        // The server's restricted opening (file protocol, media demuxers only) must take every listed container.
        let r = try process(input, out) { $0.inputOptions = .untrustedLocalFile }
        let p = try Media.probe(out)
        #expect(p.video?.codec_name == "h264")
        #expect(Int(p.video?.nb_read_frames ?? "") == expected)
        #expect(r.framesWritten == expected)
        #expect(dir.contents.sorted() == ["clip.\(ext)", "out.mp4"])
    }

    @Test func misleadingExtensionIsIgnored() throws {
        let dir = try Scratch()
        let input = dir.path("actually-matroska.mp4")
        try Media.make(input, args: ["-c:v", "libx264", "-preset", "ultrafast", "-f", "matroska"])
        let out = dir.path("out.mkv")
        #expect(try process(input, out).framesWritten == 25)
    }

    @Test func fileAndDataURLsAreInputs() throws {
        let dir = try Scratch()
        let input = dir.path("in put.mp4")
        try Media.make(input, video: "testsrc2=size=64x48:rate=10")
        let fileURL = URL(fileURLWithPath: input).absoluteString
        #expect(try process(fileURL, dir.path("a.mp4")).framesWritten == 10)
        let data = try Data(contentsOf: URL(fileURLWithPath: input))
        #expect(try process("data:video/mp4;base64," + data.base64EncodedString(), dir.path("b.mp4")).framesWritten == 10)
    }

    @Test(arguments: [("mp4", "libx264", "h264"), ("mov", "libx264", "h264"), ("mkv", "libx265", "hevc"),
                      ("webm", "libvpx-vp9", "vp9"), ("mkv", "libsvtav1", "av1"), ("webm", "libaom-av1", "av1")])
    func outputContainersAndEncoders(ext: String, codec: String, format: String) throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, video: "testsrc2=size=128x96:rate=10")
        let out = dir.path("out.\(ext)")
        let r = try process(input, out, codec: codec) { req in
            req.preset = ["libaom-av1": "8", "libvpx-vp9": "8", "libsvtav1": "12", "libx265": "ultrafast", "libx264": "ultrafast"][codec]
            req.quality = 30
        }
        #expect(r.encoder == codec)
        let p = try Media.probe(out)
        #expect(p.video?.codec_name == format)
        #expect(p.video?.nb_read_frames == "10")
    }
}

@Suite struct FallbackTests {
    @Test(arguments: [("h264_nvenc", "libx264", "h264"), ("av1_nvenc", "libsvtav1", "av1"), ("hevc_nvenc", "libx265", "hevc")])
    func hardwareEncoderFallsBackToCPU(hardware: String, cpu: String, format: String) throws {
        guard !CodecCatalog.probe().contains(where: { $0.name == hardware && $0.opens }) else {
            print("skipped: \(hardware) opens on this machine, so there is no fallback to test")
            return
        }
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, video: "testsrc2=size=128x96:rate=10")
        var logs: [String] = []
        var req = ProcessRequest(input: input, output: dir.path("out.mkv"))
        req.outputCodec = hardware
        req.preset = "p1"
        let r = try Runner(request: req, onLog: { logs.append($0) }).run()
        #expect(r.encoder == cpu)
        #expect(r.fallbackFrom == hardware)
        #expect(logs.contains { $0.contains(hardware) && $0.contains("falling back") && $0.contains(cpu) })
        #expect(try Media.probe(dir.path("out.mkv")).video?.codec_name == format)

        req.allowFallback = false
        req.output = dir.path("strict.mkv")
        let failure = #expect(throws: JobFailure.self) { try Runner(request: req).run() }
        #expect(failure?.underlying is MediaError)
        #expect(failure.map { "\($0)".contains(hardware) && "\($0)".contains(req.output) } == true)
        #expect(!FileManager.default.fileExists(atPath: req.output))
    }

    @Test func codecCatalogSaysWhatOpens() {
        let list = CodecCatalog.probe()
        #expect(list.first { $0.name == "libx264" }?.opens == true)
        #expect(list.count == OutputCatalogue.encoders.count)
        for a in list where !a.opens { #expect(a.reason?.isEmpty == false) }
    }
}

@Suite struct ThreadPlanTests {
    @Test func decoderThreadsLeaveTheCoresToACPUEncoder() {
        // An explicit request wins; a hardware encoder leaves it to FFmpeg (0); beside a CPU encoder,
        // two threads, and a quarter of the cores from 8 cores up.
        #expect(Runner.decoderThreads(requested: 3, hardwareEncoder: false, cores: 2) == 3)
        #expect(Runner.decoderThreads(requested: 0, hardwareEncoder: true, cores: 2) == 0)
        #expect(Runner.decoderThreads(requested: 0, hardwareEncoder: false, cores: 2) == 2)
        #expect(Runner.decoderThreads(requested: 0, hardwareEncoder: false, cores: 4) == 2)
        #expect(Runner.decoderThreads(requested: 0, hardwareEncoder: false, cores: 16) == 4)
    }

    @Test func theColourKernelTakesTheCoresTheEncoderLeaves() {
        // A hardware encoder leaves every core (up to 8); a CPU encoder on every core leaves none; one told
        // to use N threads leaves what it and the decoder's N do not take.
        #expect(Runner.kernelBands(requested: 0, hardwareEncoder: true, cores: 2) == 2)
        #expect(Runner.kernelBands(requested: 0, hardwareEncoder: true, cores: 32) == 8)
        #expect(Runner.kernelBands(requested: 0, hardwareEncoder: false, cores: 16) == 1)
        #expect(Runner.kernelBands(requested: 1, hardwareEncoder: false, cores: 2) == 1)
        #expect(Runner.kernelBands(requested: 4, hardwareEncoder: false, cores: 16) == 8)
        #expect(Runner.kernelBands(requested: 2, hardwareEncoder: false, cores: 8) == 4)
    }
}

@Suite struct LateTrimTests {
    /// Mean Y of the first `count` frames of `path`, decoded by the ffmpeg CLI as they are stored.
    static func lumaMeans(_ path: String, width: Int, height: Int, count: Int) throws -> [Double] {
        let raw = path + ".yuv"
        defer { unlink(raw) }
        try #require(try sh(["ffmpeg", "-v", "error", "-i", path, "-vsync", "passthrough", "-frames:v", "\(count)",
                             "-f", "rawvideo", "-pix_fmt", "yuv420p", raw]).status == 0)
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
        let frame = width * height * 3 / 2
        return (0..<min(count, bytes.count / frame)).map { i in
            Double(bytes[i * frame..<i * frame + width * height].reduce(0) { $0 + Int($1) }) / Double(width * height)
        }
    }

    /// A trim far into the file seeks to a keyframe before its start and stops reading a second past its end,
    /// yet keeps exactly the frames (each frame's luma says its number) and the sound of that stretch. A raw
    /// stream, where a seek cannot land by time, is read from the start and cut the same.
    @Test(arguments: ["mp4", "h264"])
    func aLateTrimSeeksAndStopsEarlyYetCutsFrameExactly(container: String) throws {
        let dir = try Scratch()
        let source = dir.path("count.mp4")
        try Media.make(source, video: "nullsrc=s=64x48:r=25,geq=lum='mod(N*7\\,220)+16':cb=128:cr=128", seconds: 12, audio: true,
                       args: ["-c:v", "libx264", "-g", "25", "-pix_fmt", "yuv420p"])
        var input = source
        if container == "h264" {
            input = dir.path("count.h264")
            try #require(try sh(["ffmpeg", "-v", "error", "-i", source, "-c", "copy", "-bsf:v", "h264_mp4toannexb", input]).status == 0)
        }
        let out = dir.path("out.mkv")
        let result = try process(input, out, chain: "trim:start=6.2,duration=1") { $0.quality = 8 }
        #expect(result.framesWritten == 25)
        let expected = (155..<158).map { Double((($0 * 7) % 220) + 16) }
        let got = try Self.lumaMeans(out, width: 64, height: 48, count: 3)
        #expect(got.count == 3 && zip(got, expected).allSatisfy { abs($0 - $1) < 2 }, "\(got) vs \(expected)")
        let probe = try Media.probe(out)
        #expect(probe.video?.nb_read_frames == "25")
        if container == "mp4" {
            // From the keyframe at 4 s to a second past 7.2 s: about 105 frames of the 300.
            #expect(result.framesDecoded < 150, "\(result.framesDecoded)")
            #expect(probe.audio.count == 1)
            let pcm = dir.path("a.raw")
            try #require(try sh(["ffmpeg", "-v", "error", "-i", out, "-map", "0:a", "-f", "s16le", "-ac", "1", "-ar", "44100", pcm]).status == 0)
            let seconds = Double(try FileManager.default.attributesOfItem(atPath: pcm)[.size] as! Int) / 2 / 44100
            #expect(abs(seconds - 1) < 0.05, "\(seconds) s of audio")
        }
    }
}
