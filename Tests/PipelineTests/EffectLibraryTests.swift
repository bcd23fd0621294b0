import Effects
import Foundation
import MediaIO
import Recipe
import TestSupport
import Testing
@testable import Pipeline

/// The effect library through the real engine: decoded output checked for geometry, timing, audio and pixels.
@Suite struct EffectLibraryTests {
    /// A 4 s, 25 fps clip with a 440 Hz tone.
    static func clip(_ dir: Scratch, size: String = "320x240") throws -> String {
        let input = dir.path("in.mp4")
        try Media.make(input, video: "testsrc2=size=\(size):rate=25", seconds: 4, audio: true)
        return input
    }

    @Test func trimIsFrameAccurateWithAudioInStep() throws {
        let dir = try Scratch()
        let input = try Self.clip(dir)
        let out = dir.path("out.mp4")
        // Lossless 4:2:0 (CRF 0) keeps the decoded pixels, so the first frame can be matched exactly.
        let r = try process(input, out, chain: "trim:start=1.2,end=3") { $0.quality = 0 }
        #expect(r.framesWritten == 45)  // (3 - 1.2) * 25
        let p = try Media.probe(out)
        #expect(p.video?.nb_read_frames == "45")
        #expect(abs(p.startTime) < 0.001)
        #expect(abs(p.duration - 1.8) < 0.05, "\(p.duration)")
        let audioDuration = Double(p.audio.first?.duration ?? "0") ?? 0
        #expect(abs(audioDuration - 1.8) < 0.05, "audio lasts \(audioDuration)")
        let times = try Media.frameTimes(out)
        #expect(abs(times[0]) < 0.001 && abs(times[1] - 0.04) < 0.001)
        // The first frame kept is source frame 30 (t = 1.2 s).
        #expect(try Media.rgbFrame(out, index: 0) == Media.rgbFrame(input, index: 30))
    }

    @Test func geometrySteps() throws {
        let dir = try Scratch()
        let input = try Self.clip(dir)
        for (chain, width, height) in [("resize:width=160", 160, 120), ("resize:height=100", 134, 100),
                                       ("resize:width=200,height=200,fit=inside", 200, 150), ("crop:aspect=1:1", 240, 240),
                                       ("crop:x=10,y=20,width=100,height=80", 100, 80), ("rotate:angle=90", 240, 320),
                                       ("rotate:angle=180", 320, 240), ("pixelate:size=16", 320, 240)] {
            let out = dir.path("g.mkv")
            try process(input, out, chain: chain)
            let v = try #require(try Media.probe(out).video)
            #expect(v.width == width && v.height == height, "\(chain): \(v.width ?? 0)x\(v.height ?? 0)")
            #expect(v.nb_read_frames == "100", "\(chain)")
        }
    }

    /// Each libavfilter step against the ffmpeg CLI running the same filters on the same frames.
    @Test(arguments: ["flip:direction=vertical", "rotate:angle=270", "blur:sigma=3", "sharpen:amount=2", "edges", "vignette:strength=0.8",
                      "pixelate:size=8", "crop:x=8,y=8,width=64,height=48", "fade:in=0.2,out=0"])
    func filterStepMatchesFFmpeg(chain: String) throws {
        let dir = try Scratch()
        let input = dir.path("in.mkv")
        try Media.make(input, video: "testsrc2=size=96x64:rate=10", args: ["-c:v", "ffv1", "-pix_fmt", "yuv444p"])
        let ours = dir.path("ours.mkv")
        try process(input, ours, chain: chain) { $0.pixelFormat = "yuv444p"; $0.quality = 0 }
        var shape = StreamShape(width: 96, height: 64, frameRate: 10, duration: 1)
        let step = try ChainStep.resolved(try Chain.parse(chain)[0])()
        guard case .filter(let lower) = step.definition.lowering else { Issue.record("not a filter step"); return }
        let graph = try lower(step.parameters, &shape).video.map(\.description).joined(separator: ",")
        let theirs = dir.path("theirs.mkv")
        let r = try sh(["ffmpeg", "-v", "error", "-y", "-i", input, "-vf", graph + ",format=yuv444p", "-c:v", "libx264", "-crf", "0",
                        "-preset", "ultrafast", theirs])
        try #require(r.status == 0, "\(r.err)")
        for index in [0, 5] {
            let a = try Media.rgbFrame(ours, index: index), b = try Media.rgbFrame(theirs, index: index)
            try #require(a.count == b.count, "\(chain)")
            let mean = Double(zip(a, b).map { abs(Int($0) - Int($1)) }.reduce(0, +)) / Double(a.count)
            #expect(mean < 1.0, "\(chain) frame \(index): mean difference \(mean)")
        }
    }

    @Test func speedHalvesTheDurationAndKeepsThePitch() throws {
        let dir = try Scratch()
        let input = try Self.clip(dir)
        let out = dir.path("fast.mp4")
        let r = try process(input, out, chain: "speed:factor=2")
        #expect(r.framesWritten == 100)  // every frame kept, twice as close together
        let p = try Media.probe(out)
        #expect(abs(p.duration - 2) < 0.06, "\(p.duration)")
        let audioDuration = Double(p.audio.first?.duration ?? "0") ?? 0
        #expect(abs(audioDuration - 2) < 0.06, "audio lasts \(audioDuration)")
        // 440 Hz stays 440 Hz (a plain resample would make it 880): count zero crossings of the decoded tone.
        let raw = dir.path("a.raw")
        _ = try sh(["ffmpeg", "-v", "error", "-y", "-i", out, "-ac", "1", "-ar", "44100", "-f", "s16le", raw])
        let samples = try Data(contentsOf: URL(fileURLWithPath: raw)).withUnsafeBytes { Array($0.bindMemory(to: Int16.self)) }
        let body = samples.dropFirst(4410).dropLast(4410)
        let crossings = zip(body, body.dropFirst()).filter { ($0 < 0) != ($1 < 0) }.count
        let frequency = Double(crossings) / 2 / (Double(body.count) / 44100)
        #expect(abs(frequency - 440) < 15, "tone at \(frequency) Hz")
    }

    @Test func fpsDropsFrames() throws {
        let dir = try Scratch()
        let input = try Self.clip(dir)
        let out = dir.path("fps.mp4")
        try process(input, out, chain: "fps:rate=10")
        let p = try Media.probe(out)
        #expect(p.video?.nb_read_frames == "40")
        #expect(abs(p.duration - 4) < 0.15)
    }

    /// A chain of colour steps runs as one pass and matches the steps applied one after another to the source's RGB.
    @Test func fusedColourChainMatchesItsSteps() throws {
        let dir = try Scratch()
        let input = dir.path("in.mkv")
        try Media.make(input, video: "testsrc2=size=128x96:rate=10", args: ["-c:v", "ffv1", "-pix_fmt", "yuv444p"])
        let chain = "adjust:brightness=0.05,contrast=1.2,saturation=1.3 | hue:degrees=25 | sepia:strength=0.3 | invert"
        let out = dir.path("out.mkv")
        var notes: [String] = []
        var request = ProcessRequest(input: input, output: out, steps: try Chain.parse(chain))
        request.outputCodec = "libx264"; request.pixelFormat = "yuv444p"; request.quality = 0
        _ = try Runner(request: request, onLog: { notes.append($0) }).run()
        #expect(notes.contains { $0.contains("fused colour pass (adjust, hue, sepia, invert)") }, "\(notes)")
        let ops = try Chain.resolve(try Chain.parse(chain)).flatMap { s -> [ColorOp] in
            guard case .color(let lower) = s.definition.lowering else { return [] }
            return try lower(s.parameters, { _ in [] })
        }
        let src = try Media.rgbFrame(input, index: 3), ours = try Media.rgbFrame(out, index: 3)
        var errors: [Int] = []
        for i in stride(from: 0, to: src.count, by: 3) {
            let e = ColorComposer.sequential(ops, SIMD3(src[i], src[i + 1], src[i + 2]))
            errors += [abs(Int(e.x) - Int(ours[i])), abs(Int(e.y) - Int(ours[i + 1])), abs(Int(e.z) - Int(ours[i + 2]))]
        }
        let mean = Double(errors.reduce(0, +)) / Double(errors.count)
        // Y'CbCr 4:4:4 holds RGB to about a level each way; the composition itself is exact for these steps.
        #expect(mean < 2, "mean \(mean)")
        #expect(Double(errors.filter { $0 <= 3 }.count) / Double(errors.count) > 0.97)
    }

    @Test func lutFromACubeFile() throws {
        let dir = try Scratch()
        let input = dir.path("in.mkv")
        try Media.make(input, video: "testsrc2=size=64x48:rate=10", args: ["-c:v", "ffv1", "-pix_fmt", "yuv444p"])
        // A LUT that inverts: ffmpeg's lut3d (trilinear) on the same file is the independent check.
        var cube = "LUT_3D_SIZE 5\n"
        for b in 0..<5 { for g in 0..<5 { for r in 0..<5 { cube += "\(1 - Double(r) / 4) \(1 - Double(g) / 4) \(1 - Double(b) / 4)\n" } } }
        try cube.write(toFile: dir.path("inv.cube"), atomically: true, encoding: .utf8)
        let ours = dir.path("ours.mkv")
        try process(input, ours, chain: "lut:url=\(dir.path("inv.cube"))") { $0.pixelFormat = "yuv444p"; $0.quality = 0 }
        let theirs = dir.path("theirs.mkv")
        let r = try sh(["ffmpeg", "-v", "error", "-y", "-i", input, "-vf", "lut3d=file=\(dir.path("inv.cube")):interp=trilinear,format=yuv444p",
                        "-c:v", "libx264", "-crf", "0", "-preset", "ultrafast", theirs])
        try #require(r.status == 0, "\(r.err)")
        let a = try Media.rgbFrame(ours, index: 2), b = try Media.rgbFrame(theirs, index: 2)
        let mean = Double(zip(a, b).map { abs(Int($0) - Int($1)) }.reduce(0, +)) / Double(a.count)
        #expect(mean < 1.5, "mean \(mean)")
        // A file that is not a LUT fails before any frame, naming the file.
        try "not a lut".write(toFile: dir.path("bad.cube"), atomically: true, encoding: .utf8)
        #expect { try process(input, dir.path("bad.mkv"), chain: "lut:url=\(dir.path("bad.cube"))") } throws: {
            "\($0)".contains("bad.cube") && "\($0)".contains("not a usable .cube LUT")
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("bad.mkv")))
    }

    /// Both interpolations against ffmpeg's `lut3d` on the same RGB frames, with no conversion on either
    /// side: each within a code value of lut3d's own (which truncates where we round, so ours is higher
    /// by half a code value on average), and further from lut3d's other interpolation.
    @Test func lutInterpolationsMatchLut3dOnTheSameRGBFrames() throws {
        let dir = try Scratch()
        // Products of channels (which trilinear reproduces and tetrahedral does not) and a curve: the
        // two interpolations differ by code values inside the 5-point lattice's cells.
        var cube = "LUT_3D_SIZE 5\n"
        for b in 0..<5 { for g in 0..<5 { for r in 0..<5 {
            let (x, y, z) = (Double(r) / 4, Double(g) / 4, Double(b) / 4)
            cube += "\(0.1 + 0.8 * x * y + 0.1 * z) \(y * z) \(pow(z, 1.5) * (0.5 + 0.5 * x))\n"
        } } }
        let cubePath = dir.path("curve.cube"), source = dir.path("src.rgb")
        try cube.write(toFile: cubePath, atomically: true, encoding: .utf8)
        let made = try sh(["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=96x64:rate=5,format=gbrp,noise=alls=60:allf=t",
                           "-frames:v", "3", "-f", "rawvideo", "-pix_fmt", "rgb24", source])
        try #require(made.status == 0, "\(made.err)")
        let pixels = try [UInt8](Data(contentsOf: URL(fileURLWithPath: source))), cubeBytes = Array(cube.utf8)
        var theirs: [CubeInterpolation: [UInt8]] = [:]
        for interpolation in CubeInterpolation.allCases {
            let out = dir.path("\(interpolation).rgb")
            let r = try sh(["ffmpeg", "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", "96x64", "-i", source,
                            "-vf", "lut3d=file=\(cubePath):interp=\(interpolation)", "-f", "rawvideo", "-pix_fmt", "rgb24", out])
            try #require(r.status == 0, "\(r.err)")
            theirs[interpolation] = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
        }
        for interpolation in CubeInterpolation.allCases {
            let step = try Chain.resolve(try Chain.parse("lut:url=\(cubePath),interpolation=\(interpolation)"))[0]
            guard case .color(let lower) = step.definition.lowering else { Issue.record("lut is not a colour step"); return }
            let ops = try lower(step.parameters, { _ in cubeBytes })
            var ours = [UInt8](repeating: 0, count: pixels.count)
            for i in stride(from: 0, to: pixels.count, by: 3) {
                let v = ColorComposer.sequential(ops, SIMD3(pixels[i], pixels[i + 1], pixels[i + 2]))
                ours[i] = v.x; ours[i + 1] = v.y; ours[i + 2] = v.z
            }
            let same = zip(ours, theirs[interpolation]!).map { Int($0) - Int($1) }
            let other = zip(ours, theirs[interpolation == .tetrahedral ? .trilinear : .tetrahedral]!).map { abs(Int($0) - Int($1)) }
            let bias = Double(same.reduce(0, +)) / Double(same.count)
            #expect(same.allSatisfy { abs($0) <= 1 }, "\(interpolation): worst \(same.map(abs).max()!)")
            #expect((0.3...0.7).contains(bias), "\(interpolation): mean difference \(bias)")
            // lut3d's other interpolation is more than a code value away from ours in many places.
            let apart = Double(other.filter { $0 >= 2 }.count) / Double(other.count)
            #expect(apart > 0.02, "\(interpolation): only \(apart) of the values differ from lut3d's other interpolation")
        }
    }

    @Test func stepsThatLeaveNothingFailClearly() throws {
        let dir = try Scratch()
        let input = try Self.clip(dir)
        #expect { try process(input, dir.path("x.mp4"), chain: "trim:start=10") } throws: { "\($0)".contains("after the end of the video") }
        #expect { try process(input, dir.path("x.mp4"), chain: "crop:x=300,y=0,width=100,height=100") } throws: { "\($0)".contains("does not fit") }
        #expect(dir.contents.filter { $0.hasPrefix(".") || $0.hasPrefix("x") }.isEmpty, "\(dir.contents)")
    }

    @Test func previewWritesOneFrameAndAPair() throws {
        let dir = try Scratch()
        let input = try Self.clip(dir)
        var preview = Preview(input: input, output: dir.path("p.png"), steps: try Chain.parse("posterize:levels=4 | sepia"))
        preview.at = 2
        let one = try preview.render()
        #expect(one.width == 320 && one.height == 240 && abs(one.time - 2) < 0.05)
        let p = try Media.probe(dir.path("p.png"))
        #expect(p.video?.codec_name == "png" && p.video?.width == 320)
        preview.sideBySide = true
        preview.output = dir.path("pair.png")
        let pair = try preview.render()
        #expect(pair.width == 320 * 2 + 8 && pair.height == 240)
        // Through a retiming step, the frame shown is at the output's time.
        preview.steps = try Chain.parse("trim:start=1 | invert")
        preview.sideBySide = false
        preview.output = dir.path("t.png")
        #expect(abs(try preview.render().time - 2) < 0.05)
    }

    /// Far from a keyframe, with B-frames, the preview skips what it can (frames nothing refers to are not
    /// decoded, earlier frames skip the steps) and still shows exactly the frame at that time.
    @Test func previewFarFromAKeyframeShowsThatFrame() throws {
        let dir = try Scratch()
        let input = dir.path("b.mp4")
        try Media.make(input, video: "testsrc2=size=160x120:rate=25", seconds: 4,
                       args: ["-c:v", "libx264", "-preset", "veryfast", "-bf", "3", "-g", "100", "-pix_fmt", "yuv420p"])
        for (at, index) in [(2.0, 50), (3.0, 75), (0.52, 13)] {
            var preview = Preview(input: input, output: dir.path("p\(index).png"), steps: [])
            preview.at = at
            #expect(abs(try preview.render().time - at) < 0.02)
            // Closest to that frame, not to its neighbours (testsrc2 moves); the colour conversions to RGB
            // (ours and ffmpeg's) differ by a few code values.
            let shown = try Media.rgbFrame(dir.path("p\(index).png"))
            let distances = try [index - 1, index, index + 1].map { i -> Double in
                let decoded = try Media.rgbFrame(input, index: i)
                return Double(zip(shown, decoded).reduce(0) { $0 + abs(Int($1.0) - Int($1.1)) }) / Double(max(1, shown.count))
            }
            #expect(distances[1] < 8 && distances[1] + 1 < min(distances[0], distances[2]), "at \(at): \(distances)")
        }
    }
}

extension ChainStep {
    /// `resolved` as a function value (for readability in tests).
    static func resolved(_ step: ChainStep) -> () throws -> ResolvedStep { { try step.resolved() } }
}
