import ErrorTaxonomy
import Foundation
import Jobs
import Recipe
import TestSupport
import Testing

/// `vfx batch` end to end: real clips, a corrupt one, a missing one, URLs, kills and interrupts.
@Suite(.serialized) struct BatchTests {
    static func clips(_ dir: Scratch, count: Int, seconds: Double = 1, size: String = "160x120") throws -> [String] {
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        return try (1...count).map { i in
            let path = dir.path("in/clip\(i).mp4")
            try Media.make(path, video: "testsrc2=size=\(size):rate=25", seconds: seconds, audio: true)
            return path
        }
    }

    static func report(_ path: String) throws -> BatchReport {
        try JSONDecoder().decode(BatchReport.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }

    @Test func mixedBatchReportsEveryItemInOrder() throws {
        let dir = try Scratch()
        let good = try Self.clips(dir, count: 2)
        let corrupt = dir.path("corrupt.mp4")
        try Data(try Data(contentsOf: URL(fileURLWithPath: good[0])).prefix(3000)).write(to: URL(fileURLWithPath: corrupt))
        let missing = dir.path("missing.mp4")
        let unreachable = "http://127.0.0.1:9/nothing.mp4"  // the discard port: nothing listens
        let args = [good[0], corrupt, missing, unreachable, good[1]]
        let r = try sh([vfxBinary, "batch"] + args + ["-o", dir.path("out"), "--chain", "posterize:levels=4", "--output-codec", "libx264",
                                                       "--report", dir.path("report.json"), "--retries", "0"])
        #expect(r.status == 1, "\(r.err)")
        let report = try Self.report(dir.path("report.json"))
        #expect(report.items.map(\.input) == args)
        #expect(report.items.map(\.status) == [.succeeded, .failed, .failed, .failed, .succeeded])
        #expect(report.succeeded == 2 && report.failed == 3 && report.skipped == 0)
        #expect(report.items[1].error?.category == .badMedia)
        #expect(report.items[1].error?.message.contains("corrupt.mp4") == true)
        #expect(report.items[2].error?.message.contains("not found") == true)
        #expect(report.items[3].error?.category == .unavailable, "\(String(describing: report.items[3].error))")
        for item in report.items where item.status == .succeeded {
            #expect(item.frames == 25 && item.encoder == "libx264" && item.attempts == 1)
            let p = try Media.probe(item.output)
            #expect(p.video?.nb_read_frames == "25" && p.audio.count == 1)
        }
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path("out"))) == ["clip1.vfx.mp4", "clip2.vfx.mp4"])
        #expect(r.err.contains("2 succeeded, 3 failed, 0 skipped"))
        // The raw JSON has the documented keys, null errors included.
        let raw = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir.path("report.json")))) as? [String: Any])
        #expect(raw["succeeded"] as? Int == 2 && raw["failed"] as? Int == 3 && raw["skipped"] as? Int == 0)
        let first = try #require((raw["items"] as? [[String: Any]])?.first)
        #expect(Set(first.keys) == ["input", "output", "status", "error", "frames", "seconds", "encoder", "attempts"])
        #expect(first["error"] is NSNull)
    }

    @Test func killedBatchResumesSkippingExactlyTheFinishedItems() throws {
        let dir = try Scratch()
        let inputs = try Self.clips(dir, count: 5, seconds: 3, size: "640x360")
        let out = dir.path("out")
        // Kill -9 once two items have finished: no chance to clean up.
        let script = """
        import signal, subprocess, sys, time
        p = subprocess.Popen(sys.argv[1:], stderr=subprocess.PIPE, text=True)
        done = 0
        for line in p.stderr:
            if line.startswith("ok "):
                done += 1
                if done == 2:
                    p.send_signal(signal.SIGKILL); break
        p.wait()
        print(done)
        """
        let killed = try sh(["python3", "-c", script, vfxBinary, "batch", dir.path("in"), "-o", out, "--jobs", "1",
                             "--output-codec", "libx264", "--preset", "medium"])
        #expect(killed.out.hasPrefix("2"), "\(killed.out) \(killed.err)")
        let finished = Set(try FileManager.default.contentsOfDirectory(atPath: out).filter { !$0.hasPrefix(".") })
        #expect(finished.count == 2, "\(finished)")
        let r = try sh([vfxBinary, "batch", dir.path("in"), "-o", out, "--jobs", "1", "--output-codec", "libx264", "--preset", "ultrafast",
                        "--report", dir.path("report.json")])
        #expect(r.status == 0, "\(r.err)")
        let report = try Self.report(dir.path("report.json"))
        #expect(report.skipped == 2 && report.succeeded == 3, "\(report.items.map(\.status))")
        for item in report.items {
            let name = URL(fileURLWithPath: item.output).lastPathComponent
            #expect((item.status == .skipped) == finished.contains(name), "\(name)")
        }
        #expect(report.items.map(\.input) == inputs)
        // The killed item's unfinished file is gone; every output is whole.
        #expect(try FileManager.default.contentsOfDirectory(atPath: out).filter { $0.hasPrefix(".") }.isEmpty)
        for item in report.items { #expect(try Media.probe(item.output).video?.nb_read_frames == "75") }
        // --force redoes everything.
        let forced = try sh([vfxBinary, "batch", dir.path("in"), "-o", out, "--output-codec", "libx264", "--preset", "ultrafast", "--force", "--quiet"])
        #expect(forced.status == 0 && forced.err.contains("5 succeeded, 0 failed, 0 skipped"), "\(forced.err)")
    }

    @Test func maxFailuresStopsStartingItems() throws {
        let dir = try Scratch()
        let good = try Self.clips(dir, count: 2)
        let bad = (1...3).map { dir.path("bad\($0).mp4") }
        for b in bad { try Data("not a video".utf8).write(to: URL(fileURLWithPath: b)) }
        let r = try sh([vfxBinary, "batch"] + bad + good + ["-o", dir.path("out"), "--jobs", "1", "--max-failures", "2",
                                                          "--output-codec", "libx264", "--report", dir.path("r.json")])
        #expect(r.status == 1)
        let report = try Self.report(dir.path("r.json"))
        #expect(report.items.map(\.status) == [.failed, .failed, .notStarted, .notStarted, .notStarted])
        #expect(r.err.contains("3 not started (failure limit)"), "\(r.err)")
    }

    @Test func transientErrorsAreRetriedWithBackoff() throws {
        let dir = try Scratch()
        let port = Int.random(in: 20_000...40_000)
        // A server that answers 503 twice, then serves the clip: the third attempt succeeds.
        let clip = try Self.clips(dir, count: 1)[0]
        let script = """
        import http.server, subprocess, sys, threading
        hits = {"n": 0}
        class H(http.server.BaseHTTPRequestHandler):
            def log_message(self, *a): pass
            def do_GET(self):
                hits["n"] += 1
                if hits["n"] <= 2:
                    self.send_response(503); self.end_headers(); return
                data = open(sys.argv[2], "rb").read()
                self.send_response(200); self.send_header("Content-Length", str(len(data))); self.end_headers(); self.wfile.write(data)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        r = subprocess.run(sys.argv[3:], capture_output=True, text=True)
        server.shutdown()
        print(r.returncode); print(r.stderr, file=sys.stderr)
        """
        let r = try sh(["python3", "-c", script, String(port), clip, vfxBinary, "batch", "http://127.0.0.1:\(port)/clip.mp4",
                        "-o", dir.path("out"), "--output-codec", "libx264", "--retries", "2", "--report", dir.path("r.json")])
        #expect(r.out.hasPrefix("0"), "\(r.out) \(r.err)")
        let report = try Self.report(dir.path("r.json"))
        #expect(report.items.first?.status == .succeeded && report.items.first?.attempts == 3, "\(report.items)")
        #expect(r.err.contains("trying again"), "\(r.err)")
    }

    @Test func manifestsAndTheirErrors() throws {
        let dir = try Scratch()
        let inputs = try Self.clips(dir, count: 2)
        let csv = dir.path("m.csv")
        try """
        input,output,chain,crf
        \(inputs[0]),first.mkv,"posterize:levels=3 | resize:width=80",30
        \(inputs[1]),,invert,

        """.write(toFile: csv, atomically: true, encoding: .utf8)
        let r = try sh([vfxBinary, "batch", "--manifest", csv, "-o", dir.path("out"), "--output-codec", "libx264", "--report", dir.path("r.json")])
        #expect(r.status == 0, "\(r.err)")
        let first = try Media.probe(dir.path("out/first.mkv"))
        #expect(first.video?.width == 80)
        #expect(FileManager.default.fileExists(atPath: dir.path("out/clip2.vfx.mp4")))
        let jsonl = dir.path("m.jsonl")
        try """
        {"input": "\(inputs[0])", "chain": [{"name": "grayscale"}]}
        {"input": "\(inputs[1])", "speed": 2}
        """.write(toFile: jsonl, atomically: true, encoding: .utf8)
        let badKey = try sh([vfxBinary, "batch", "--manifest", jsonl, "-o", dir.path("out2")])
        #expect(badKey.status == ErrorCategory.invalidInput.exitCode)
        #expect(badKey.err.contains("m.jsonl:2: unknown key 'speed'"), "\(badKey.err)")
        for (content, words) in [("input,crf\n\(inputs[0]),99\n", "m2.csv:2: crf '99'"), ("file\nx.mp4\n", "m2.csv:1: unknown column 'file'"),
                                 ("input,chain\n\(inputs[0]),posterize:levels=1\n", "m2.csv:2: posterize: levels=1"),
                                 ("input,output\n\"unterminated,x\n", "m2.csv:2: unterminated quote")] {
            try content.write(toFile: dir.path("m2.csv"), atomically: true, encoding: .utf8)
            let e = try sh([vfxBinary, "batch", "--manifest", dir.path("m2.csv"), "-o", dir.path("out3")])
            #expect(e.status == ErrorCategory.invalidInput.exitCode)
            #expect(e.err.contains(words), "\(e.err)")
        }
        let leftovers = (try? FileManager.default.contentsOfDirectory(atPath: dir.path("out3"))) ?? []
        #expect(leftovers.isEmpty)
    }

    /// A folder of mixed containers: a default name takes a container that holds the output codec;
    /// a name given explicitly is kept and refused before any work when it cannot hold it.
    @Test func mixedContainersGetOutputsTheirCodecFits() throws {
        let dir = try Scratch()
        try FileManager.default.createDirectory(atPath: dir.path("in"), withIntermediateDirectories: true)
        try Media.make(dir.path("in/a.webm"), seconds: 0.4, args: ["-c:v", "libvpx-vp9", "-deadline", "realtime", "-cpu-used", "8"])
        try Media.make(dir.path("in/b.mov"), seconds: 0.4)
        let r = try sh([vfxBinary, "batch", dir.path("in"), "-o", dir.path("out"), "--output-codec", "libx264", "--quiet"])
        #expect(r.status == 0, "\(r.err)")
        #expect(Set(try FileManager.default.contentsOfDirectory(atPath: dir.path("out"))) == ["a.vfx.mp4", "b.vfx.mov"])
        #expect(try Media.probe(dir.path("out/a.vfx.mp4")).video?.codec_name == "h264")
        let vp9 = try sh([vfxBinary, "batch", dir.path("in/b.mov"), "-o", dir.path("out9"), "--output-codec", "libvpx-vp9", "--quiet"])
        #expect(vp9.status == 0, "\(vp9.err)")
        #expect(try Media.probe(dir.path("out9/b.vfx.webm")).video?.codec_name == "vp9")
        try "input,output\n\(dir.path("in/b.mov")),fine.mkv\n\(dir.path("in/a.webm")),explicit.webm\n"
            .write(toFile: dir.path("m.csv"), atomically: true, encoding: .utf8)
        let named = try sh([vfxBinary, "batch", "--manifest", dir.path("m.csv"), "-o", dir.path("out2"), "--output-codec", "libx264"])
        #expect(named.status == ErrorCategory.invalidInput.exitCode, "\(named.err)")
        #expect(named.err.contains("line 3") && named.err.contains("explicit.webm") && named.err.contains("WebM"), "\(named.err)")
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dir.path("out2")))?.isEmpty ?? true)
    }

    @Test func collisionsAndOverwritesStopBeforeWork() throws {
        let dir = try Scratch()
        let inputs = try Self.clips(dir, count: 1)
        try FileManager.default.createDirectory(atPath: dir.path("other"), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: inputs[0], toPath: dir.path("other/clip1.mp4"))
        let r = try sh([vfxBinary, "batch", inputs[0], dir.path("other/clip1.mp4"), "-o", dir.path("out")])
        #expect(r.status == ErrorCategory.invalidInput.exitCode)
        #expect(r.err.contains("would both write") && r.err.contains("clip1.vfx.mp4"), "\(r.err)")
        let over = try sh([vfxBinary, "batch", inputs[0], "-o", dir.path("in"), "--name", "{stem}.{ext}"])
        #expect(over.status == ErrorCategory.invalidInput.exitCode && over.err.contains("would overwrite the input"), "\(over.err)")
        let template = try sh([vfxBinary, "batch", inputs[0], "-o", dir.path("out"), "--name", "{nope}.mp4"])
        #expect(template.err.contains("unknown field {nope}"))
        #expect((try? FileManager.default.contentsOfDirectory(atPath: dir.path("out")))?.isEmpty ?? true)
    }

    @Test func interruptCancelsRunningItemsAndReportsTheRest() throws {
        let dir = try Scratch()
        _ = try Self.clips(dir, count: 4, seconds: 4, size: "1280x720")
        let script = """
        import signal, subprocess, sys, time
        p = subprocess.Popen(sys.argv[1:], stderr=subprocess.PIPE)
        time.sleep(2.0)
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=60)[1].decode()
        print(p.returncode); print(err, file=sys.stderr)
        """
        let r = try sh(["python3", "-c", script, vfxBinary, "batch", dir.path("in"), "-o", dir.path("out"), "--jobs", "2",
                        "--output-codec", "libx264", "--preset", "slow", "--report", dir.path("r.json")])
        #expect(r.out.hasPrefix("130"), "\(r.out) \(r.err)")
        let report = try Self.report(dir.path("r.json"))
        #expect(report.notStarted >= 2, "\(report.items.map(\.status))")
        let written = try FileManager.default.contentsOfDirectory(atPath: dir.path("out"))
        #expect(written.filter { $0.hasPrefix(".") }.isEmpty, "partial files: \(written)")
        #expect(written.count == report.succeeded)
    }
}
