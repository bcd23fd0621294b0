import Foundation
@testable import Jobs
import MediaIO
@testable import Pipeline
import Recipe
import Synchronization
import Testing
import TestSupport

/// Split jobs: chunks cut at keyframes, encoded side by side and stitched, against an unsplit run of
/// the same recipe (read back with ffprobe and ffmpeg, independent of our code).
@Suite(.serialized) struct SplitTests {
    static func clip(_ path: String, seconds: Int = 60) throws { try Media.clickTrackClip(path, seconds: seconds) }

    static func run(_ input: String, _ output: String, chain: String, split: SplitSetting, codec: String = "libx264", crf: Int = 0) throws -> (ProcessResult, [String]) {
        var request = ProcessRequest(input: input, output: output, steps: try Chain.parse(chain))
        request.recipe.settings = OutputSettings(codec: codec, quality: crf, audio: .keep)
        let log = Mutex<[String]>([])
        let result = try SplitJob(request: request, setting: split, jobs: 2, threadsPerChunk: 1)
            .run(onLog: { line in log.withLock { $0.append(line) } })
        return (result, log.withLock { $0 })
    }

    /// Six chunks of a minute with audio equal the unsplit run: the same packets (every presentation
    /// and decoding time, in the same time base), the same decoded frames byte for byte (lossless),
    /// the same audio packets at the same times (so every click lands on the same sample at every seam).
    @Test func sixChunksEqualTheUnsplitRun() throws {
        let dir = try Scratch()
        let input = dir.path("clicks.mp4")
        try Self.clip(input)
        let chain = "posterize:levels=4 | vignette | fade:in=1.5,out=2"
        let (whole, _) = try Self.run(input, dir.path("whole.mp4"), chain: chain, split: .off)
        let (split, log) = try Self.run(input, dir.path("split.mp4"), chain: chain, split: .seconds(10))
        #expect(log.contains("note: split into 6 chunks, 2 at a time"), "\(log)")
        #expect(whole.framesWritten == 1500 && split.framesWritten == 1500)
        #expect(split.audioStreams == 1)
        let a = dir.path("whole.mp4"), b = dir.path("split.mp4")
        let sa = try StreamCheck.streams(a), sb = try StreamCheck.streams(b)
        #expect(sa == sb)
        #expect(sb.contains("h264,1/12800,0.000000,60.000000,1500"), "\(sb)")
        let pa = try StreamCheck.packets(a), pb = try StreamCheck.packets(b)
        #expect(pa.count == 1500 && pa == pb)
        let fa = try StreamCheck.frames(a), fb = try StreamCheck.frames(b)
        #expect(fa.count == 1500)
        let firstDiffering = zip(fa, fb).enumerated().first { $0.element.0 != $0.element.1 }?.offset
        #expect(fa == fb, "first differing frame: \(String(describing: firstDiffering))")
        let aa = try StreamCheck.audio(a), ab = try StreamCheck.audio(b)
        #expect(aa.count > 2000 && aa == ab)
        // Nothing of the chunks is left beside the output.
        #expect(Set(dir.contents) == ["clicks.mp4", "whole.mp4", "split.mp4"], "\(dir.contents)")
    }

    /// Matroska (milliseconds, no stored decoding times) and a 29.97 fps source with B-frames whose
    /// audio starts before its video: still the same packets and frames.
    @Test func matroskaAndAnNTSCRateSourceStitchExactly() throws {
        let dir = try Scratch()
        let input = dir.path("ntsc.mkv")
        try Media.make(input, video: "testsrc2=size=320x240:rate=30000/1001", seconds: 25, audio: true,
                       args: ["-c:v", "libx264", "-preset", "ultrafast", "-bf", "3", "-g", "60", "-pix_fmt", "yuv420p", "-c:a", "libopus", "-shortest"])
        for ext in ["mkv", "mov"] {
            let a = dir.path("whole.\(ext)"), b = dir.path("split.\(ext)")
            let (whole, _) = try Self.run(input, a, chain: "sepia | sharpen", split: .off)
            let (split, log) = try Self.run(input, b, chain: "sepia | sharpen", split: .seconds(6))
            #expect(log.contains { $0.hasPrefix("note: split into 5 chunks") }, "\(log)")
            #expect(whole.framesWritten > 740 && split.framesWritten == whole.framesWritten)
            #expect(try StreamCheck.packets(a) == StreamCheck.packets(b), "\(ext)")
            #expect(try StreamCheck.frames(a) == StreamCheck.frames(b), "\(ext)")
            #expect(try StreamCheck.audio(a) == StreamCheck.audio(b), "\(ext)")
        }
    }

    /// Cuts at k x seconds move to the nearest keyframe, the earlier one on a tie; empty chunks go.
    @Test func cutsMoveToTheNearestKeyframe() throws {
        let tb = Rational(1, 10)
        let frames = Array(Int64(0)..<100)  // 10 s at 10 fps
        let keys: [Int64] = [0, 18, 22, 40, 45, 55, 90]
        guard case .split(let plan) = SplitPlan.plan(frames: frames, keyframes: keys, timeBase: tb, seconds: 2) else {
            Issue.record("not split"); return
        }
        // Targets 20 (tie 18/22: 18), 40, 60 (55), 80 (90), 100 (past the end).
        #expect(plan.chunks.map(\.window.start) == [nil, 18, 40, 55, 90])
        #expect(plan.chunks.map(\.frames) == [18, 22, 15, 35, 10])
        #expect(plan.totalFrames == 100)
        guard case .unsplit = SplitPlan.plan(frames: frames, keyframes: [0], timeBase: tb, seconds: 2) else {
            Issue.record("a video with one keyframe cannot be split"); return
        }
    }

    /// Fade in and out and grain on chunks equal the unsplit run: fade reads each frame's time on the
    /// timeline and grain draws its noise from it, so every chunk makes what the whole run makes there.
    @Test func fadeAndGrainOnChunksEqualTheUnsplitRun() throws {
        let dir = try Scratch()
        let input = dir.path("clicks.mp4")
        try Self.clip(input, seconds: 20)
        let chain = "fade:in=1.5,out=2 | grain:strength=0.5 | posterize:levels=8"
        let a = dir.path("whole.mp4"), b = dir.path("split.mp4")
        let (whole, _) = try Self.run(input, a, chain: chain, split: .off)
        let (split, log) = try Self.run(input, b, chain: chain, split: .seconds(4))
        #expect(log.contains("note: split into 5 chunks, 2 at a time"), "\(log)")
        #expect(whole.framesWritten == 500 && split.framesWritten == 500)
        #expect(try StreamCheck.packets(a) == StreamCheck.packets(b))
        let fa = try StreamCheck.frames(a), fb = try StreamCheck.frames(b)
        #expect(fa.count == 500 && fa == fb)
        // The grain changes every frame: no two decoded frames of the (static-free) middle are alike.
        #expect(Set(fa.map { $0.split(separator: " ")[1] }).count == 500)
    }

    /// Steps that move frames in time are planned on the whole timeline first: the chunks are cut on the
    /// output's timeline, decode what their share needs (and a little past it, for fps) and keep only
    /// their share; the stitched result equals the unsplit run, packets, frames and audio.
    @Test(arguments: ["trim:start=3.3,end=17.9 | posterize:levels=5", "speed:factor=1.5 | vignette", "fps:rate=10 | invert",
                      "trim:start=2.5 | speed:factor=0.75 | fps:rate=12", "fps:rate=29.97 | grain",
                      "trim:start=1,end=15.5 | fps:rate=15", "trim:start=1,end=15.5 | speed:factor=1.25 | fps:rate=15"])
    func timingStepsArePlannedOnTheWholeTimeline(chain: String) throws {
        let dir = try Scratch()
        let input = dir.path("clicks.mp4")
        try Self.clip(input, seconds: 20)
        let a = dir.path("whole.mp4"), b = dir.path("split.mp4")
        let (whole, _) = try Self.run(input, a, chain: chain, split: .off)
        let (split, log) = try Self.run(input, b, chain: chain, split: .seconds(4))
        #expect(log.contains { $0.hasPrefix("note: split into") }, "\(log)")
        #expect(!log.contains { $0.contains("unsplit") }, "\(log.filter { $0.contains("unsplit") })")
        #expect(split.framesWritten == whole.framesWritten && whole.framesWritten > 100)
        #expect(try StreamCheck.streams(a) == StreamCheck.streams(b))
        #expect(try StreamCheck.packets(a) == StreamCheck.packets(b))
        #expect(try StreamCheck.frames(a) == StreamCheck.frames(b))
        #expect(try StreamCheck.audio(a) == StreamCheck.audio(b))
    }

    /// The plan knows which steps it can map: every catalogue step runs on chunks now.
    @Test func everyStepRunsOnChunks() throws {
        for definition in EffectCatalogue.all {
            #expect(definition.chunking == .anyChunk, "\(definition.name)")
        }
        #expect(try SplitPlan.obstacle(in: Chain.parse("trim:start=1 | speed:factor=2 | fps:rate=10 | resize:width=100 | blur | fade | vignette | grain")) == nil)
    }

    /// `auto` splits only long videos and only with more than one job.
    @Test func autoSplitsLongVideosOnly() {
        let request = ProcessRequest(input: "in.mp4", output: "out.mp4")
        #expect(SplitJob(request: request, setting: .auto, jobs: 2).chunkSeconds(duration: 121) == 30)
        #expect(SplitJob(request: request, setting: .auto, jobs: 2).chunkSeconds(duration: 120) == nil)
        #expect(SplitJob(request: request, setting: .auto, jobs: 1).chunkSeconds(duration: 600) == nil)
        #expect(SplitJob(request: request, setting: .seconds(7), jobs: 1).chunkSeconds(duration: 10) == 7)
        #expect(SplitSetting("0") == nil && SplitSetting("-3") == nil && SplitSetting("abc") == nil && SplitSetting("nan") == nil)
        #expect(SplitSetting("2.5") == .seconds(2.5) && SplitSetting("AUTO") == .auto)
    }
}

/// Split jobs through the command line: faults, failures, cancel and bad values.
@Suite(.serialized) struct SplitCLITests {
    @Test func aChunkThatFailsOnceIsRetried() throws {
        let dir = try Scratch()
        let input = dir.path("clip.mp4")
        try SplitTests.clip(input, seconds: 12)
        let r = try sh(["VFX_TEST_CHUNK_FAULT=3", vfxBinary, "process", input, "-o", dir.path("out.mp4"), "--split", "4",
                        "--output-codec", "libx264", "--chain", "invert"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("warning: chunk 3 of 3 (8.000 s to 11.960 s) failed (a fault injected for a test (VFX_TEST_CHUNK_FAULT)); trying it again"), "\(r.err)")
        #expect(try Media.frameTimes(dir.path("out.mp4")).count == 300)
        #expect(Set(dir.contents) == ["clip.mp4", "out.mp4"])
    }

    @Test func aChunkThatAlwaysFailsFailsTheJobNamingIt() throws {
        let dir = try Scratch()
        let input = dir.path("clip.mp4")
        try SplitTests.clip(input, seconds: 12)
        let r = try sh(["VFX_TEST_CHUNK_FAULT=2:always", vfxBinary, "process", input, "-o", dir.path("out.mp4"), "--split", "4",
                        "--output-codec", "libx264"])
        #expect(r.status != 0)
        #expect(r.err.contains("chunk 2 of 3 (4.000 s to 8.000 s) failed after 2 attempts"), "\(r.err)")
        #expect(dir.contents == ["clip.mp4"], "\(dir.contents)")
    }

    @Test func cancellingMidJobLeavesNothing() throws {
        let dir = try Scratch()
        let input = dir.path("long.mp4")
        try Media.make(input, video: "testsrc2=size=1280x720:rate=25", seconds: 20,
                       args: ["-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p"])
        let script = """
        import signal, subprocess, sys, time
        p = subprocess.Popen(sys.argv[1:], stderr=subprocess.PIPE)
        time.sleep(2.5)
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=30)[1].decode()
        print(p.returncode); print(err, file=sys.stderr)
        """
        let r = try sh(["python3", "-c", script, vfxBinary, "process", input, "-o", dir.path("out.mp4"), "--split", "4", "--jobs", "2",
                        "--output-codec", "libx264", "--preset", "slow", "--quiet"])
        #expect(r.out.trimmingCharacters(in: .whitespacesAndNewlines) == "130", "\(r.out) \(r.err)")
        #expect(dir.contents == ["long.mp4"], "\(dir.contents)")
    }

    @Test(arguments: ["0", "-3", "abc"])
    func badSplitValuesAreRefused(value: String) throws {
        let r = try sh([vfxBinary, "process", "in.mp4", "-o", "out.mp4", "--split=\(value)"])
        #expect(r.status == 64, "\(r.err)")
        #expect(r.err.contains("--split: '\(value)' is not valid; it takes auto, off, or the chunk length in seconds"), "\(r.err)")
    }
}
