import Analysis
import Foundation
import MediaIO
import TestSupport
import Testing

/// What the ffmpeg CLI's psnr and ssim filters print for `distorted` against `reference`.
func ffmpegScores(distorted: String, reference: String) throws -> (y: Double, u: Double, v: Double, ssim: Double) {
    let r = try sh(["ffmpeg", "-hide_banner", "-i", distorted, "-i", reference, "-lavfi",
                    "[0:v]split[a][b];[1:v]split[c][d];[a][c]psnr;[b][d]ssim", "-f", "null", "-"])
    try #require(r.status == 0, "\(r.err)")
    func value(_ line: String, _ key: String) throws -> Double {
        let part = try #require(line.components(separatedBy: key).dropFirst().first)
        return try #require(Double(part.prefix { $0 == "." || $0.isNumber }))
    }
    let psnr = try #require(r.err.split(separator: "\n").first { $0.contains("PSNR y:") }.map(String.init))
    let ssim = try #require(r.err.split(separator: "\n").first { $0.contains("SSIM Y:") }.map(String.init))
    return (try value(psnr, " y:"), try value(psnr, " u:"), try value(psnr, " v:"), try value(ssim, "All:"))
}

@Suite struct QualityMeterTests {
    @Test(arguments: [("yuv420p", "libx264"), ("yuv420p10le", "libx265")])
    func psnrAndSSIMEqualTheFFmpegCLI(format: String, codec: String) throws {
        let dir = try Scratch()
        let reference = dir.path("ref.mkv"), distorted = dir.path("dist.mkv")
        try Media.make(reference, video: "testsrc2=size=176x144:rate=25", seconds: 0.8, args: ["-c:v", "ffv1", "-pix_fmt", format])
        let r = try sh(["ffmpeg", "-v", "error", "-i", reference, "-c:v", codec, "-crf", "36", "-preset", "ultrafast", "-x265-params", "log-level=error", distorted])
        try #require(r.status == 0, "\(r.err)")
        let m = try QualityMeter.measure(reference: reference, distorted: distorted)
        let cli = try ffmpegScores(distorted: distorted, reference: reference)
        #expect(m.frames.count == 20 && m.referenceFrames == 20 && m.distortedFrames == 20)
        #expect(m.peak == (format == "yuv420p" ? 255 : 1023))
        #expect(abs(m.psnr(plane: 0) - cli.y) < 0.01, "\(m.psnr(plane: 0)) vs \(cli.y)")
        #expect(abs(m.psnrYUV - (6 * cli.y + cli.u + cli.v) / 8) < 0.01)
        #expect(abs(m.ssim - cli.ssim) < 0.01, "\(m.ssim) vs \(cli.ssim)")
        // A real loss: the numbers are not the identical-picture ceiling.
        #expect(m.psnr(plane: 0) > 20 && m.psnr(plane: 0) < 45 && m.ssim < 0.99)
    }

    @Test func identicalVideosScoreTheCeilingAndSizesAreMatched() throws {
        let dir = try Scratch()
        let reference = dir.path("ref.mkv"), smaller = dir.path("small.mkv")
        try Media.make(reference, seconds: 0.4, args: ["-c:v", "ffv1", "-pix_fmt", "yuv420p"])
        let same = try QualityMeter.measure(reference: reference, distorted: reference)
        #expect(same.psnr(plane: 0) == QualityMeasurement.psnrCeiling && abs(same.ssim - 1) < 1e-6)
        // A distorted video at another size is scaled to the reference's before measuring.
        try #require(try sh(["ffmpeg", "-v", "error", "-i", reference, "-vf", "scale=80:60", "-c:v", "ffv1", smaller]).status == 0)
        let scaled = try QualityMeter.measure(reference: reference, distorted: smaller)
        #expect(scaled.frames.count == 10 && scaled.psnr(plane: 0) < 35)
    }
}

@Suite struct CompareCommandTests {
    struct Report: Decodable {
        struct Point: Decodable {
            let codec: String, preset: String?, crf: Int, bytes: Int, bitrate_kbps: Double, encode_seconds: Double
            let cpu_seconds: Double, fps: Double, frames: Int, psnr_y: Double, psnr_yuv: Double, ssim: Double, vmaf: Double?
            struct PerFrame: Decodable { let psnr_y: [Double]; let ssim: [Double] }
            let per_frame: PerFrame
        }
        struct BD: Decodable { let codec: String, preset: String?, baseline: String, metric: String, percent: Double?, note: String }
        struct Unavailable: Decodable { let codec: String, reason: String }
        struct Source: Decodable { let frames: Int; let duration: Double; let width: Int; let sampled: [[Double]]? }
        let points: [Point], bd_rate: [BD], unavailable: [Unavailable], source: Source
    }

    @Test func comparesPresetsEndToEnd() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, video: "testsrc2=size=320x240:rate=25", seconds: 2, audio: true)
        let out = dir.path("report")
        let r = try sh([vfxBinary, "compare", input, "--codecs", "libx264,h264_nvenc", "--presets", "medium,ultrafast",
                        "--crf", "20,28,36,44", "--chain", "resize:width=240", "-o", out, "--keep-encodes", "--json",
                        "--chart-point", "libx264:ultrafast:36"])
        try #require(r.status == 0, "\(r.err)")
        let report = try JSONDecoder().decode(Report.self, from: Data(r.out.utf8))
        // Missing values are explicit nulls; the chosen chart point is named as points are.
        for key in ["vmaf", "sampled"] { #expect(r.out.contains("\"\(key)\" : null"), "\(key)") }
        #expect(r.out.contains("\"chart_point\" : {") && r.out.contains("\"crf\" : 36"))
        // NVENC is listed with its reason, never dropped silently.
        #expect(report.unavailable.map(\.codec) == ["h264_nvenc"] && !report.unavailable[0].reason.isEmpty)
        #expect(report.points.count == 8)
        #expect(report.source.width == 240 && report.source.frames == 50)
        for p in report.points {
            let file = "\(out)/encodes/libx264-\(p.preset!)-crf\(p.crf).mkv"
            let probe = try Media.probe(file)
            #expect(probe.video?.codec_name == "h264" && probe.video?.width == 240)
            #expect(probe.video?.nb_read_frames == "50" && p.frames == 50 && p.per_frame.psnr_y.count == 50)
            let size = try FileManager.default.attributesOfItem(atPath: file)[.size] as! Int
            let duration = try #require(Double(probe.format.duration ?? ""))
            #expect(p.bytes == size)
            #expect(abs(p.bitrate_kbps - Double(size) * 8 / duration / 1000) / p.bitrate_kbps < 0.001)
            #expect(p.encode_seconds > 0 && p.cpu_seconds > 0 && p.fps > 0 && p.vmaf == nil)
        }
        for preset in ["medium", "ultrafast"] {
            let curve = report.points.filter { $0.preset == preset }.sorted { $0.crf < $1.crf }
            // Higher CRF: fewer bits and lower quality, point after point.
            for (a, b) in zip(curve, curve.dropFirst()) {
                #expect(b.bitrate_kbps < a.bitrate_kbps && b.psnr_y < a.psnr_y && b.ssim < a.ssim, "\(a.crf) -> \(b.crf)")
            }
        }
        let medium = report.bd_rate.filter { $0.preset == "medium" }
        #expect(medium.count == 3 && medium.allSatisfy { abs($0.percent ?? 1) < 1e-9 && $0.baseline == "libx264 medium" })
        // x264's fastest preset needs more bits than medium for the same PSNR.
        let fast = try #require(report.bd_rate.first { $0.preset == "ultrafast" && $0.metric == "psnr_y" })
        #expect((fast.percent ?? 0) > 0, "\(fast)")

        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        #expect(html.components(separatedBy: "class=\"chart rd\"").count - 1 == 3)  // PSNR-Y, PSNR-YUV, SSIM
        for metric in ["psnr_y", "psnr_yuv", "ssim"] { #expect(html.contains("data-metric=\"\(metric)\"")) }
        #expect(html.contains("class=\"chart speed\"") && html.contains("class=\"pareto\"") && html.contains("class=\"chart frames\""))
        #expect(html.contains("log scale") && html.contains("higher is better") && html.contains("no libvmaf"))
        #expect(html.contains("The chosen point (libx264 ultrafast crf 36"))
        // Self-contained: nothing to fetch, nothing to run.
        let links = html.components(separatedBy: "http").count - 1
        #expect(links == html.components(separatedBy: "http://www.w3.org/2000/svg").count - 1)
        for s in ["<script", "<link", "src=", "url(", "@import"] { #expect(!html.contains(s), "\(s)") }
        let csv = try String(contentsOfFile: out + "/report.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 9 && csv[0].hasPrefix("codec,preset,crf,bytes,bitrate_kbps"))
        // Working files (the reference, logs) are gone.
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: out)) == ["report.html", "report.json", "report.csv", "encodes"])
    }

    @Test func sampledSegmentsAndATableSortedByBDRate() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, video: "testsrc2=size=160x120:rate=25", seconds: 6)
        let r = try sh([vfxBinary, "compare", input, "--codecs", "libx264", "--presets", "ultrafast,veryslow", "--crf", "22,30,38",
                        "--sample", "2", "--baseline", "libx264"])
        try #require(r.status == 0, "\(r.err)")
        let rows = r.out.split(separator: "\n").filter { $0.hasPrefix("libx264") }
        #expect(rows.count == 2)
        // veryslow saves bits against ultrafast's baseline, so it comes first.
        #expect(rows.first?.contains("veryslow") == true, "\(r.out)")
        #expect(r.out.contains("sampled: 1 segment of 2.0 s from 6.0 s"), "\(r.out)")
        let j = try sh([vfxBinary, "compare", input, "--codecs", "libx264", "--crf", "30,40", "--presets", "ultrafast", "--sample", "4", "--json", "-q"])
        try #require(j.status == 0, "\(j.err)")
        let report = try JSONDecoder().decode(Report.self, from: Data(j.out.utf8))
        let segments = try #require(report.source.sampled)
        #expect(segments.count == 2 && segments.allSatisfy { abs($0[1] - 2) < 1e-9 })
        #expect(segments[0][0] > 0 && segments[1][0] + 2 < 6)
        #expect(report.source.frames == 100 && report.points.allSatisfy { $0.frames == 100 })
    }

    @Test func badInputGetsAClearErrorAndLeavesNothing() throws {
        let dir = try Scratch()
        let text = dir.path("notes.txt")
        try "not a video".write(toFile: text, atomically: true, encoding: .utf8)
        let bad = try sh([vfxBinary, "compare", text, "--codecs", "libx264", "--crf", "30", "-o", dir.path("r")])
        #expect(bad.status == 3 && bad.err.contains(text), "\(bad.status) \(bad.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("r")).isEmpty)
        let codec = try sh([vfxBinary, "compare", text, "--codecs", "libx999"])
        #expect(codec.status == 2 && codec.err.contains("--codecs") && codec.err.contains("libx999"))
        let crf = try sh([vfxBinary, "compare", text, "--codecs", "libx264", "--crf", "70"])
        #expect(crf.status == 2 && crf.err.contains("--crf") && crf.err.contains("70"))
        let point = try sh([vfxBinary, "compare", text, "--codecs", "libx264", "--crf", "30", "--chart-point", "libx264:medium:31"])
        #expect(point.status == 2 && point.err.contains("--chart-point") && point.err.contains("libx264 medium crf 31"), "\(point.err)")
    }

    /// Ctrl-C (sent to vfx alone, not its process group) stops the encodes it started and leaves nothing behind.
    @Test func interruptStopsTheEncodesAndRemovesTheWorkingFiles() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, video: "testsrc2=size=1280x720:rate=25", seconds: 4)
        let script = """
        import os, re, signal, subprocess, sys, time
        p = subprocess.Popen(sys.argv[2:], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL)
        time.sleep(2.5)
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=60)[1].decode()
        time.sleep(0.5)
        # /proc read directly: a minimal Debian has no pgrep (procps).
        pattern = re.compile("vfx proces" + "s " + re.escape(sys.argv[1]) + "/.*reference.mkv")
        left = []
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                cmd = open("/proc/%s/cmdline" % pid, "rb").read().replace(b"\\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if pattern.search(cmd): left.append(pid)
        left = " ".join(left)
        print(p.returncode); print("children:" + left); print(err, file=sys.stderr)
        """
        let r = try sh(["python3", "-c", script, dir.path("r"), vfxBinary, "compare", input, "--codecs", "libx264", "--presets", "veryslow",
                        "--crf", "20,30", "--jobs", "2", "-o", dir.path("r")])
        #expect(r.out.hasPrefix("130"), "\(r.out) \(r.err)")
        #expect(r.out.contains("children:\n"), "\(r.out)")
        #expect(r.err.contains("cancelled"), "\(r.err)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path("r")).isEmpty)
    }
}
