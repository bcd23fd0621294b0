import Effects
import ErrorTaxonomy
import Foundation
import Recipe
import TestSupport
import Testing

/// The built `vfx` binary, next to the test bundle.
let vfxBinary: String = {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent("vfx").path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir.deleteLastPathComponent()
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent(".build/debug/vfx").path
}()

@Suite struct CLITests {
    @Test func processWritesAPosterizedVideoAndReportsProgress() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, seconds: 1, audio: true)
        let out = dir.path("out.mp4")
        let r = try sh([vfxBinary, "process", input, "-o", out, "--num-levels", "3"])
        #expect(r.status == 0, "\(r.err)")
        #expect(r.err.contains("falling back") && r.err.contains("libx264"))
        #expect(r.err.contains("frame 25/25"))
        let p = try Media.probe(out)
        #expect(p.video?.nb_read_frames == "25")
        #expect(p.audio.count == 1)
        #expect(fractionNear(try Media.rgbFrame(out), levelSet(3), tolerance: 24) > 0.9)
    }

    /// A job stuck where cancellation cannot reach (a codec that does not return; injected here) stops at
    /// the second Ctrl-C, at once, with its temporary output removed.
    @Test func secondInterruptStopsAStuckJobAndRemovesItsFiles() throws {
        let dir = try Scratch()
        let input = dir.path("stuck.mp4")
        try Media.make(input, seconds: 2)
        let script = """
        import os, signal, subprocess, sys, time
        env = dict(os.environ, VFX_TEST_JOB_FAULT="hang:stuck")
        p = subprocess.Popen(sys.argv[1:], stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=env)
        seen = b""
        while b"test fault: hanging" not in seen and p.poll() is None:
            seen += os.read(p.stderr.fileno(), 4096)
        p.send_signal(signal.SIGINT)
        time.sleep(0.5)
        alive = p.poll() is None
        p.send_signal(signal.SIGINT)
        start = time.time()
        err = p.communicate(timeout=20)[1].decode()
        print(p.returncode, alive, round(time.time() - start, 1)); print(err, file=sys.stderr)
        """
        let r = try sh(["python3", "-c", script, vfxBinary, "process", input, "-o", dir.path("out.mp4"), "--output-codec", "libx264"])
        let fields = r.out.split(separator: " ").map { String($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
        #expect(fields.first == "130", "\(r.out) \(r.err)")
        #expect(fields.dropFirst().first == "True", "the first Ctrl-C alone should not have ended the stuck job")
        #expect((Double(fields.last ?? "") ?? 99) < 2, "\(r.out)")
        #expect(r.err.contains("stopped; no output written"), "\(r.err)")
        #expect(dir.contents == ["stuck.mp4"], "left: \(dir.contents)")
    }

    @Test func quietPrintsNothing() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input)
        let r = try sh([vfxBinary, "process", input, "-o", dir.path("o.mp4"), "--output-codec", "libx264", "--quiet"])
        #expect(r.status == 0)
        #expect(r.err.isEmpty && r.out.isEmpty)
    }

    @Test(arguments: [
        (["process", "/nonexistent/x.mp4", "-o", "/tmp/x.mp4"], "not found"),
        (["process", "IN", "-o", "OUT", "--num-levels", "1"], "--num-levels=1 must be in 2...256"),
        (["process", "IN", "-o", "OUT", "--threshold", "2", "--effect", "threshold"], "threshold"),
        (["process", "IN", "-o", "OUT", "--effect", "sepia"], "unknown effect"),
        (["process", "IN", "-o", "OUT", "--output-codec", "nope"], "unknown output codec"),
        (["process", "IN", "-o", "OUT", "--output-codec", "h264_nvenc", "--no-fallback"], "h264_nvenc"),
        (["process", "IN", "-o", "/no/dir/out.mp4"], "cannot write output"),
    ])
    func badInputExitsNonZeroWithOneLine(args: [String], words: String) throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input)
        let argv = args.map { $0 == "IN" ? input : ($0 == "OUT" ? dir.path("out.mp4") : $0) }
        let r = try sh([vfxBinary] + argv + ["--quiet"])
        #expect(r.status != 0)
        let lines = r.err.split(separator: "\n").filter { !$0.isEmpty }
        #expect(lines.count == 1, "\(r.err)")
        #expect(r.err.lowercased().contains(words.lowercased()), "\(r.err)")
        // The line names the user's own file, never only a library call or a temporary name.
        let named = argv.filter { $0.hasSuffix(".mp4") }
        #expect(named.contains { r.err.contains($0) }, "\(r.err) names none of \(named)")
        #expect(!r.err.contains(".vfx-"), "\(r.err)")
        #expect(dir.contents == ["in.mp4"])
    }

    @Test func probeJSONDescribesStreams() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, seconds: 1, audio: true)
        let r = try sh([vfxBinary, "probe", input, "--json"])
        #expect(r.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [String: Any]
        let streams = json?["streams"] as? [[String: Any]]
        #expect(streams?.count == 2)
        #expect(streams?.first?["codec"] as? String == "h264")
        #expect(streams?.first?["frameCount"] as? Int == 25)
        #expect(json?["videoStream"] as? Int == 0)
    }

    @Test func codecsListsWhatOpens() throws {
        let r = try sh([vfxBinary, "codecs"])
        #expect(r.status == 0)
        let x264 = r.out.split(separator: "\n").first { $0.hasPrefix("libx264") }
        #expect(x264?.contains("opens") == true)
        #expect(r.out.contains("h264_nvenc"))
        // The kernel copy in use is the newest this CPU runs, unless VFX_ISA names another.
        #expect(r.out.contains("effect kernels: \(InstructionSet.available.last!)"))
        let portable = try sh(["VFX_ISA=baseline", vfxBinary, "codecs"])
        #expect(portable.out.contains("effect kernels: baseline"))
    }

    @Test func helpDocumentsDefaults() throws {
        let r = try sh([vfxBinary, "process", "--help"])
        let help = r.out.split(whereSeparator: { $0.isWhitespace }).joined(separator: " ")
        for text in ["--num-levels", "default: 25", "--threshold", "default: 0.5", "--output-codec", "default: h264_nvenc",
                     "--crf", "default: 19", "--preset", "--pixel-format", "default: yuv420p", "--no-audio", "--no-fallback", "--quiet"] {
            #expect(help.contains(text), "help lacks \(text)")
        }
    }

    @Test func sharedSampleClipsGoThrough() throws {
        guard SharedMedia.available else {
            print("skipped: ../shared/media is not here (a user's clone); the generated clips cover the formats")
            return
        }
        let dir = try Scratch()
        for name in ["cant-keep-getting-away.mp4", "input.mp4", "sample.gif", "sample.webm", "sample.hevc",
                     "sample.m4v", "sample.wmv", "sample.flv", "sample.mov"] {
            let input = SharedMedia.path(name)
            let expected = try Media.probe(input).video?.nb_read_frames
            let out = dir.path(name + ".mp4")
            let r = try sh([vfxBinary, "process", input, "-o", out, "--output-codec", "libx264", "--preset", "ultrafast", "--quiet"])
            #expect(r.status == 0, "\(name): \(r.err)")
            let p = try Media.probe(out)
            #expect(p.video?.nb_read_frames == expected, "\(name)")
            #expect(p.video?.pix_fmt == "yuv420p")
            if name.hasPrefix("cant-keep") {
                #expect(p.audio.first?.codec_name == "aac")
                #expect(abs(p.duration - (try Media.probe(input)).duration) < 0.1)
            }
        }
    }

    @Test func peakMemoryDoesNotGrowWithLength() throws {
        let dir = try Scratch()
        let short = dir.path("short.mp4"), long = dir.path("long.mp4")
        try Media.make(short, video: "testsrc2=size=320x240:rate=25", seconds: 6, audio: true)
        try Media.make(long, video: "testsrc2=size=320x240:rate=25", seconds: 60, audio: true)
        func peakKiB(_ input: String) throws -> Int {
            let script = "import resource,subprocess,sys; subprocess.run(sys.argv[1:], check=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
            let r = try sh(["python3", "-c", script, vfxBinary, "process", input, "-o", input + ".out.mp4",
                            "--output-codec", "libx264", "--preset", "ultrafast", "--quiet"])
            try #require(r.status == 0, "\(r.err)")
            return Int(r.out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? 0
        }
        let a = try peakKiB(short), b = try peakKiB(long)
        #expect(a > 0)
        #expect(Double(b) < Double(a) * 1.25, "peak RSS \(a) KiB for 6 s, \(b) KiB for 60 s")
    }
}

@Suite struct CLISignalAndNetworkTests {
    @Test func interruptLeavesNoOutputAndExits130() throws {
        let dir = try Scratch()
        let input = dir.path("long.mp4")
        try Media.make(input, video: "testsrc2=size=1280x720:rate=30", seconds: 30)
        let script = """
        import signal, subprocess, sys, time
        p = subprocess.Popen(sys.argv[1:], stderr=subprocess.PIPE)
        time.sleep(1.5)
        p.send_signal(signal.SIGINT)
        err = p.communicate(timeout=30)[1].decode()
        print(p.returncode); print(err, file=sys.stderr)
        """
        let r = try sh(["python3", "-c", script, vfxBinary, "process", input, "-o", dir.path("out.mp4"),
                        "--output-codec", "libx264", "--preset", "slow", "--quiet"])
        #expect(r.out.trimmingCharacters(in: .whitespacesAndNewlines) == "130", "\(r.out) \(r.err)")
        #expect(r.err.contains("cancelled"))
        #expect(dir.contents == ["long.mp4"])
    }

    @Test(arguments: ["SIGTERM", "POST /shutdown"])
    func serveStopsCleanly(how: String) throws {
        let port = Int.random(in: 20_000...40_000)
        let script = """
        import json, signal, subprocess, sys, time, urllib.request
        base = "http://127.0.0.1:" + sys.argv[1]
        p = subprocess.Popen(sys.argv[3:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        status = None
        for _ in range(300):
            try:
                status = json.load(urllib.request.urlopen(base + "/health-check", timeout=2))["status"]
                if status == "READY": break
            except Exception:
                pass
            time.sleep(0.1)
        if sys.argv[2] == "SIGTERM":
            p.send_signal(signal.SIGTERM)
        else:
            urllib.request.urlopen(urllib.request.Request(base + "/shutdown", method="POST"), timeout=5)
        try:
            code = p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            p.kill(); code = "hung"
        print(status); print(code); print(p.stderr.read().decode(), file=sys.stderr)
        """
        let r = try sh(["python3", "-c", script, "\(port)", how == "SIGTERM" ? "SIGTERM" : "shutdown",
                        vfxBinary, "serve", "--host", "127.0.0.1", "--port", "\(port)", "--enable-shutdown"])
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.first == "READY", "\(r.out) \(r.err)")
        #expect(lines.dropFirst().first == "0", "\(how): \(r.out) \(r.err)")
    }

    /// `--log-format json`: every line the server writes parses as JSON, and a prediction's lines carry its id.
    @Test func serveWritesJSONLogsWithThePredictionID() throws {
        let dir = try Scratch()
        let clip = dir.path("clip.mp4")
        try Media.make(clip, seconds: 1)
        let port = Int.random(in: 20_000...40_000)
        let script = """
        import base64, json, signal, subprocess, sys, time, urllib.request
        base = "http://127.0.0.1:" + sys.argv[1]
        video = "data:video/mp4;base64," + base64.b64encode(open(sys.argv[2], "rb").read()).decode()
        p = subprocess.Popen(sys.argv[3:], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for _ in range(300):
            try:
                if json.load(urllib.request.urlopen(base + "/health-check", timeout=2))["status"] == "READY": break
            except Exception: pass
            time.sleep(0.1)
        req = urllib.request.Request(base + "/predictions", method="POST", headers={"Content-Type": "application/json"},
                                     data=json.dumps({"id": "json-log-1", "input": {"video": video, "output_codec": "libx264"}}).encode())
        print(json.load(urllib.request.urlopen(req, timeout=60))["status"])
        p.send_signal(signal.SIGTERM)
        out = p.communicate(timeout=30)[0].decode()
        lines = [l for l in out.splitlines() if l.strip()]
        records = [json.loads(l) for l in lines]  # raises on any line that is not JSON
        mine = [r for r in records if r.get("prediction_id") == "json-log-1"]
        print(len(lines)); print(len(mine))
        print("|".join(r["message"] for r in mine))
        """
        let r = try sh(["python3", "-c", script, "\(port)", clip, vfxBinary, "serve", "--host", "127.0.0.1", "--port", "\(port)",
                        "--log-format", "json"])
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(r.status == 0 && lines.count == 4, "\(r.out) \(r.err)")
        guard lines.count == 4 else { return }
        #expect(lines[0] == "succeeded")
        #expect((Int(lines[2]) ?? 0) >= 3, "lines with the prediction's id: \(lines[2]) of \(lines[1])")
        #expect(lines[3].hasPrefix("prediction started") && lines[3].contains("frame 25/25") && lines[3].hasSuffix("prediction succeeded"), "\(lines[3])")
    }

    /// SIGTERM while a long prediction runs: new predictions are refused (503, not 409), the running
    /// one gets the grace period and is then cancelled, and the server exits 0 soon after.
    @Test func serveDrainsWithADeadlineOnSIGTERM() throws {
        let dir = try Scratch()
        let long = dir.path("long.mp4")
        try Media.make(long, video: "testsrc2=size=1280x720:rate=10", seconds: 30,
                       args: ["-c:v", "libx264", "-preset", "ultrafast", "-crf", "45", "-pix_fmt", "yuv420p"])
        let port = Int.random(in: 20_000...40_000)
        let script = """
        import base64, json, signal, subprocess, sys, time, urllib.request, urllib.error
        base = "http://127.0.0.1:" + sys.argv[1]
        video = "data:video/mp4;base64," + base64.b64encode(open(sys.argv[2], "rb").read()).decode()
        p = subprocess.Popen(sys.argv[3:], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        def call(method, path, body=None, headers={}):
            data = json.dumps(body).encode() if body is not None else None
            req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json", **headers})
            try:
                with urllib.request.urlopen(req, timeout=30) as r: return r.status, json.load(r)
            except urllib.error.HTTPError as e: return e.code, json.load(e)
        for _ in range(300):
            try:
                if call("GET", "/health-check")[1]["status"] == "READY": break
            except Exception: pass
            time.sleep(0.1)
        print(call("POST", "/predictions", {"input": {"video": video, "output_codec": "libx264", "preset": "slow"}}, {"Prefer": "respond-async"})[0])
        while call("GET", "/health-check")[1]["status"] != "BUSY": time.sleep(0.1)
        p.send_signal(signal.SIGTERM)
        time.sleep(0.3)
        try: print(call("POST", "/predictions", {"input": {"video": video}})[0])
        except Exception as e: print("refused")
        start = time.time()
        try: code = p.wait(timeout=30)
        except subprocess.TimeoutExpired: p.kill(); code = "hung"
        print(code); print(round(time.time() - start, 1))
        """
        let r = try sh(["python3", "-c", script, "\(port)", long, vfxBinary, "serve", "--host", "127.0.0.1", "--port", "\(port)",
                        "--shutdown-grace", "1"])
        let lines = r.out.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(r.out) \(r.err)")
        guard lines.count == 4 else { return }
        #expect(lines[0] == "202")
        #expect(lines[1] == "503" || lines[1] == "refused", "a prediction during shutdown got \(lines[1])")
        #expect(lines[2] == "0", "exit: \(lines[2]) \(r.err)")
        #expect((Double(lines[3]) ?? 99) < 6, "took \(lines[3]) s to stop with a 1 s grace period")
    }

    @Test func serveHandsOverToTheServerBinaryAndSaysWhenItIsMissing() throws {
        for args in [["serve", "--help"], ["help", "serve"]] {
            let help = try sh([vfxBinary] + args)
            #expect(help.status == 0, "\(help.err)")
            #expect(help.out.contains("USAGE: vfx serve") && help.out.contains("--port"), "\(args): \(help.out)")
        }
        // A vfx with no vfx-server beside it or on PATH fails with a message that says what is missing.
        let dir = try Scratch()
        try FileManager.default.copyItem(atPath: vfxBinary, toPath: dir.path("vfx"))
        let r = try sh(["PATH=/usr/bin:/bin", dir.path("vfx"), "serve", "--port", "0"])
        #expect(r.status == 1)
        #expect(r.err.contains(dir.path("vfx-server")) && r.err.contains("No such file"), "\(r.err)")
    }

    #if os(Linux)
    /// `vfx process` stays small because the CLI binary loads neither Foundation nor the server stack.
    @Test func cliBinaryLoadsNoFoundation() throws {
        let r = try sh(["readelf", "-d", vfxBinary])
        try #require(r.status == 0, "\(r.err)")
        #expect(r.out.contains("[libavcodec.so"))
        #expect(!r.out.contains("[libFoundation.so]") && !r.out.contains("[libFoundationInternationalization.so]"), "\(r.out)")
    }
    #endif

    @Test func httpInputIsStreamed() throws {
        let dir = try Scratch()
        try Media.make(dir.path("clip.mp4"), video: "testsrc2=size=160x120:rate=10")
        // A throwaway static server on loopback, stopped when the test ends.
        let port = Int.random(in: 20_000...40_000)
        let script = """
        import functools, http.server, subprocess, sys, threading
        handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=sys.argv[1])
        server = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[2])), handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        r = subprocess.run(sys.argv[3:], capture_output=True, text=True)
        server.shutdown()
        print(r.returncode); print(r.stderr, file=sys.stderr)
        """
        let base = "http://127.0.0.1:\(port)"
        let ok = try sh(["python3", "-c", script, dir.url.path, String(port), vfxBinary, "process", base + "/clip.mp4",
                         "-o", dir.path("out.mp4"), "--output-codec", "libx264", "--quiet"])
        #expect(ok.out.hasPrefix("0"), "\(ok.err)")
        #expect(try Media.probe(dir.path("out.mp4")).video?.nb_read_frames == "10")
        let missing = try sh(["python3", "-c", script, dir.url.path, String(port + 1), vfxBinary, "process", "http://127.0.0.1:\(port + 1)/nope.mp4",
                              "-o", dir.path("none.mp4"), "--output-codec", "libx264", "--quiet"])
        #expect(missing.out.hasPrefix("\(ErrorCategory.unavailable.exitCode)"), "a missing URL is unavailable: \(missing.out)")
        #expect(missing.err.contains("404") || missing.err.lowercased().contains("not found"), "\(missing.err)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("none.mp4")))
    }
}

@Suite struct EffectsCommandTests {
    @Test func effectsJSONIsTheCatalogue() throws {
        let r = try sh([vfxBinary, "effects", "--json"])
        #expect(r.status == 0)
        let printed = try JSONDecoder().decode([EffectDescription].self, from: Data(r.out.utf8))
        #expect(printed == EffectDescription.all)
        let raw = try #require(try JSONSerialization.jsonObject(with: Data(r.out.utf8)) as? [[String: Any]])
        let posterize = try #require(raw.first { $0["name"] as? String == "posterize" })
        #expect(posterize["kind"] as? String == "color")
        let levels = try #require((posterize["parameters"] as? [[String: Any]])?.first)
        #expect(levels["name"] as? String == "levels" && levels["default"] as? Int == 25 && levels["min"] as? Double == 2 && levels["max"] as? Double == 256)
        let table = try sh([vfxBinary, "effects"])
        for d in EffectCatalogue.all { #expect(table.out.contains(d.name) && table.out.contains(d.summary)) }
    }

    /// Every `--flag` the README shows exists: on a `vfx COMMAND` line, in that command's `--help`;
    /// anywhere else, in some command's (or scripts/bench's) help, or as another tool's named below.
    @Test func everyFlagTheReadmeShowsIsAccepted() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        func flags(_ text: Substring) -> Set<String> {
            var out = Set<String>(), rest = text
            while let r = rest.range(of: "--") {
                let name = rest[r.upperBound...].prefix { $0.isLetter || $0.isNumber || $0 == "-" }
                if let first = name.first, first.isLetter { out.insert("--" + name.trimmingCharacters(in: CharacterSet(charactersIn: "-"))) }
                rest = rest[r.upperBound...].dropFirst(max(0, name.count))
            }
            return out
        }
        let top = try sh([vfxBinary, "--help"]).out
        let commands = top.split(separator: "\n").drop { !$0.hasPrefix("SUBCOMMANDS") }.dropFirst()
            .compactMap { $0.split(separator: " ").first.map(String.init) }.filter { !$0.isEmpty && $0 != "help" }
        #expect(commands.contains("process") && commands.contains("serve"), "\(commands)")
        var help: [String: Set<String>] = [:]
        for c in commands {
            let binary = c == "serve" ? builtBinary("vfx-server") : vfxBinary
            let r = try sh(c == "serve" ? [binary, "--help"] : [binary, c, "--help"])
            help[c] = flags(Substring(r.out + r.err))
        }
        var lastCommand: String?
        for line in readme.split(separator: "\n") {
            let words = line.split(separator: " ")
            if let i = words.firstIndex(of: "vfx"), i + 1 < words.count, help[String(words[i + 1])] != nil {
                lastCommand = String(words[i + 1])
            } else if !line.hasPrefix("  ") && !line.hasPrefix("\t") {
                lastCommand = nil
            }
            guard let command = lastCommand else { continue }
            for f in flags(line) where !["--help"].contains(f) {
                #expect(help[command]!.contains(f), "README: `vfx \(command)` does not take \(f): \(line)")
            }
        }
        let bench = try String(contentsOf: repositoryRoot.appendingPathComponent("scripts/bench"), encoding: .utf8)
        // Other tools' flags the README names, and the diagram's arrows.
        let others: Set<String> = ["--rm", "--gpus", "--strict", "--product", "--no-parallel", "--packets", "--frames", "--filter", "--skip-build"]
        let known = help.values.reduce(flags(Substring(bench)), { $0.union($1) }).union(others)
        for f in flags(Substring(readme)) { #expect(known.contains(f), "README names \(f), which no command takes") }
    }

    /// The README's architecture diagram names every target the package builds, and every type it names exists.
    @Test func architectureDiagramMatchesThePackage() throws {
        let readme = try String(contentsOf: repositoryRoot.appendingPathComponent("README.md"), encoding: .utf8)
        let start = try #require(readme.range(of: "## Architecture\n\n```\n"))
        let diagram = String(readme[start.upperBound...].prefix { _ in true }.split(separator: "```", maxSplits: 1)[0])
        let manifest = try String(contentsOf: repositoryRoot.appendingPathComponent("Package.swift"), encoding: .utf8)
        var targets: [String] = []
        for kind in [".target(name: \"", ".executableTarget(name: \"", ".systemLibrary(\n            name: \""] {
            for part in manifest.components(separatedBy: kind).dropFirst() { targets.append(String(part.prefix { $0 != "\"" })) }
        }
        #expect(targets.count >= 15, "\(targets)")
        for t in targets where t != "TestSupport" { #expect(diagram.contains(t), "the diagram lacks the target \(t)") }
        var sources = ""
        for case let url as URL in FileManager.default.enumerator(at: repositoryRoot.appendingPathComponent("Sources"), includingPropertiesForKeys: nil)!
        where url.pathExtension == "swift" { sources += (try? String(contentsOf: url, encoding: .utf8)) ?? "" }
        for type in ["Runner", "Transcode", "AudioRoute", "VideoStages", "Planner", "Preview", "PredictionService", "PredictionEvents",
                     "InputSchema", "IsolatedJob", "JobChild", "WorkerPool", "EffectCatalogue", "ParameterRule", "OutputCatalogue",
                     "FilterGraph", "VideoEffectStage", "CodecCatalog", "PredictionStore", "PredictionRunner", "Stage", "DecodeStage",
                     "FilterStage", "ColorStage", "EncodeStage", "Link", "Rational", "PixelFormat"] {
            #expect(diagram.contains(type), "\(type)")
            let declared = ["class", "struct", "enum", "actor", "protocol"].contains { sources.contains("\($0) \(type)") }
            #expect(declared, "the diagram names \(type), which no source declares")
        }
    }

    /// FFmpeg's C module is imported by MediaIO alone (and its C shim); every other target sees Swift types.
    @Test func onlyMediaIOImportsFFmpeg() throws {
        var importers: [String] = []
        for case let url as URL in FileManager.default.enumerator(at: repositoryRoot.appendingPathComponent("Sources"), includingPropertiesForKeys: nil)!
        where url.pathExtension == "swift" {
            let text = try String(contentsOf: url, encoding: .utf8)
            if text.split(separator: "\n").contains(where: { $0.hasPrefix("import CFFmpeg") }) { importers.append(url.path) }
        }
        #expect(!importers.isEmpty)
        let outside = importers.filter { !$0.contains("/Sources/MediaIO/") }
        #expect(outside.isEmpty, "outside MediaIO: \(outside)")
    }

    @Test func readmeTableMatchesTheCatalogue() throws {
        let readme = try String(contentsOfFile: URL(fileURLWithPath: #filePath).deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("README.md").path, encoding: .utf8)
        let start = try #require(readme.range(of: "<!-- effects-table -->\n")), end = try #require(readme.range(of: "\n<!-- /effects-table -->"))
        #expect(String(readme[start.upperBound..<end.lowerBound]) == EffectDescription.markdownTable(),
                "README's effects table is stale: regenerate it with `vfx effects --markdown`")
    }

    @Test func chainErrorsNameTheToken() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input)
        for (chain, words) in [("posterize:levels=6,movie=x", "unknown parameter 'movie'"), ("zmq", "unknown effect 'zmq'"),
                               ("resize:width=-5", "width=-5 must be in 16...8192")] {
            let r = try sh([vfxBinary, "process", input, "-o", dir.path("o.mp4"), "--chain", chain])
            #expect(r.status == ErrorCategory.invalidInput.exitCode)
            #expect(r.err.contains(words), "\(r.err)")
        }
        let both = try sh([vfxBinary, "process", input, "-o", dir.path("o.mp4"), "--chain", "invert", "--num-levels", "4"])
        #expect(both.status != 0 && both.err.contains("either --chain or --effect"))
        #expect(!FileManager.default.fileExists(atPath: dir.path("o.mp4")))
    }

    @Test func previewCommandWritesAPNG() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, video: "testsrc2=size=160x120:rate=25", seconds: 2)
        let r = try sh([vfxBinary, "preview", input, "-o", dir.path("f.png"), "--at", "1", "--compare", "--chain", "posterize:levels=3"])
        #expect(r.status == 0, "\(r.err)")
        let p = try Media.probe(dir.path("f.png"))
        #expect(p.video?.codec_name == "png" && p.video?.width == 328 && p.video?.height == 120)
        let bad = try sh([vfxBinary, "preview", input, "-o", dir.path("f.jpg")])
        #expect(bad.status == ErrorCategory.invalidInput.exitCode && bad.err.contains(".png"))
    }
}
