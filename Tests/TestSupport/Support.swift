import Foundation
import Testing

/// Runs a command (through `env`, so PATH applies), returning its exit status and output.
/// posix_spawn and waitpid rather than Foundation's Process, which can hang when tests spawn in parallel.
@discardableResult
public func sh(_ args: [String]) throws -> (status: Int32, out: String, err: String) {
    let base = FileManager.default.temporaryDirectory.appendingPathComponent("vfx-sh-\(UUID().uuidString)").path
    let outPath = base + ".out", errPath = base + ".err"
    defer { unlink(outPath); unlink(errPath) }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
    posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
    let argv = (["/usr/bin/env"] + args).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    var pid: pid_t = 0
    let rc = posix_spawn(&pid, "/usr/bin/env", &actions, nil, argv, environ)
    guard rc == 0 else { throw POSIXError(POSIXErrorCode(rawValue: rc) ?? .EIO) }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    let exit = (status & 0x7f) == 0 ? (status >> 8) & 0xff : 128 + (status & 0x7f)
    let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
    let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
    return (exit, out, err)
}

/// A scratch folder removed when the test's value goes away.
public final class Scratch: Sendable {
    public let url: URL
    public init() throws {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("vfx-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }
    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }
    /// Files left in the folder (to check no temporary output survives).
    public var contents: [String] { (try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? [] }
}

/// Makes clips with the ffmpeg CLI (an independent tool) and reads results back with ffprobe.
public enum Media {
    /// Generates a test clip. `video` is an ffmpeg lavfi source graph.
    /// A clip of `seconds` at 320x240, 25 fps, a keyframe every 2 s, with a click track (a beep every
    /// second, AAC at 48 kHz): the split tests' source, whose seams a stitch must keep in sync.
    public static func clickTrackClip(_ path: String, seconds: Int = 60) throws {
        try make(path, video: "testsrc2=size=320x240:rate=25", seconds: Double(seconds), audio: false,
                 args: ["-f", "lavfi", "-i", "sine=frequency=1000:beep_factor=4:sample_rate=48000",
                        "-c:v", "libx264", "-preset", "ultrafast", "-g", "50", "-pix_fmt", "yuv420p",
                        "-c:a", "aac", "-t", "\(seconds)"])
    }

    public static func make(_ path: String, video: String = "testsrc2=size=160x120:rate=25", seconds: Double = 1,
                     audio: Bool = false, args: [String] = ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"]) throws {
        var cmd = ["ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", video]
        if audio { cmd += ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100"] }
        cmd += ["-t", String(seconds)] + args
        if audio && !args.contains("-c:a") { cmd += ["-c:a", "aac"] }
        cmd.append(path)
        let r = try sh(cmd)
        try #require(r.status == 0, "ffmpeg could not make \(path): \(r.err)")
    }

    public struct Stream: Decodable {
        public let codec_name: String?
        public let codec_type: String
        public let codec_tag_string: String?
        public let start_time: String?
        public let channels: Int?
        public let channel_layout: String?
        public let tags: [String: String]?
        public let width: Int?
        public let height: Int?
        public let pix_fmt: String?
        public let nb_read_frames: String?
        public let duration: String?
        public let color_space: String?
        public let color_primaries: String?
        public let color_transfer: String?
        public let color_range: String?
        public let sample_aspect_ratio: String?
        public let side_data_list: [SideData]?
        public struct SideData: Decodable { public let side_data_type: String?; public let rotation: Double? }
    }
    public struct Probe: Decodable {
        public let streams: [Stream]
        public let format: Format
        public struct Format: Decodable { public let format_name: String; public let duration: String?; public let start_time: String? }
        public var video: Stream? { streams.first { $0.codec_type == "video" } }
        public var audio: [Stream] { streams.filter { $0.codec_type == "audio" } }
        public var duration: Double { Double(format.duration ?? "0") ?? 0 }
        public var startTime: Double { Double(format.start_time ?? "0") ?? 0 }
    }

    /// ffprobe's view of a file, with frames counted by decoding.
    public static func probe(_ path: String) throws -> Probe {
        let r = try sh(["ffprobe", "-v", "error", "-count_frames", "-show_streams", "-show_format", "-of", "json", path])
        try #require(r.status == 0, "ffprobe failed on \(path): \(r.err)")
        return try JSONDecoder().decode(Probe.self, from: Data(r.out.utf8))
    }

    /// ffprobe's `-show_frames` text for the first video frame (its side data included).
    public static func firstFrame(_ path: String) throws -> String {
        let r = try sh(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_frames", "-read_intervals", "%+#1", path])
        try #require(r.status == 0, "\(r.err)")
        return r.out
    }

    /// Presentation times (seconds) of every video frame, in order.
    public static func frameTimes(_ path: String) throws -> [Double] {
        let r = try sh(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "frame=best_effort_timestamp_time",
                        "-of", "csv=p=0", path])
        try #require(r.status == 0, "\(r.err)")
        return r.out.split(separator: "\n").compactMap { Double($0.trimmingCharacters(in: .whitespaces).trimmingCharacters(in: CharacterSet(charactersIn: ","))) }
    }

    /// Decodes frame `index` to packed RGB bytes (FFmpeg converts with the file's own colour tags).
    public static func rgbFrame(_ path: String, index: Int = 0) throws -> [UInt8] {
        let raw = path + ".frame\(index).rgb"
        defer { unlink(raw) }
        let r = try sh(["ffmpeg", "-v", "error", "-y", "-i", path, "-vf", "select=eq(n\\,\(index))", "-frames:v", "1",
                        "-f", "rawvideo", "-pix_fmt", "rgb24", raw])
        try #require(r.status == 0, "\(r.err)")
        return [UInt8](try Data(contentsOf: URL(fileURLWithPath: raw)))
    }
}

/// The original predictor's sample clips, present on the team's machines (not in a user's clone).
public enum SharedMedia {
    public static let seed: URL = URL(fileURLWithPath: #filePath)
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/media/seed")
    public static var available: Bool { FileManager.default.fileExists(atPath: seed.path) }
    public static func path(_ name: String) -> String { seed.appendingPathComponent(name).path }
}

/// The repository's root folder.
public let repositoryRoot: URL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()

/// The Python tools scripts/test-tools installs (schemathesis, prometheus-client, kubernetes-validate,
/// hadolint), or nil where it has not run (`swift test` alone): tests that need them are skipped then.
public enum TestTools {
    public static let venv = repositoryRoot.appendingPathComponent(".build/test-venv")
    public static var available: Bool { FileManager.default.fileExists(atPath: venv.appendingPathComponent(".complete").path) }
    public static func path(_ tool: String) -> String { venv.appendingPathComponent("bin/\(tool)").path }
}

/// A binary the package builds (`vfx`, `vfx-server`), found next to the test bundle, else in .build/debug.
public func builtBinary(_ name: String) -> String {
    var dir = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
    for _ in 0..<4 {
        let candidate = dir.appendingPathComponent(name).path
        if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        dir.deleteLastPathComponent()
    }
    return repositoryRoot.appendingPathComponent(".build/debug/\(name)").path
}

/// What a stitched output is checked by: packets, decoded frames and audio as ffprobe and ffmpeg read
/// them (independent of our code).
public enum StreamCheck {
    /// Every video packet's presentation and decoding time and duration, as ffprobe reads them.
    public static func packets(_ path: String) throws -> [String] {
        let r = try sh(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries", "packet=pts,dts,duration", "-of", "csv=p=0", path])
        try #require(r.status == 0, "\(r.err)")
        return r.out.split(separator: "\n").map(String.init)
    }

    /// Each decoded frame's time and the MD5 of its pixels (every frame, none dropped or repeated).
    public static func frames(_ path: String) throws -> [String] {
        let r = try sh(["ffmpeg", "-v", "error", "-i", path, "-map", "0:v", "-fps_mode", "passthrough", "-f", "framemd5", "-"])
        try #require(r.status == 0, "\(r.err)")
        return r.out.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { line in
            let f = line.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
            return f[2] + " " + f[5]
        }
    }

    /// Each audio packet's time, duration and bytes (MD5).
    public static func audio(_ path: String) throws -> [String] {
        let r = try sh(["ffmpeg", "-v", "error", "-i", path, "-map", "0:a", "-c", "copy", "-f", "framemd5", "-"])
        try #require(r.status == 0, "\(r.err)")
        return r.out.split(separator: "\n").filter { !$0.hasPrefix("#") }.map(String.init)
    }

    public static func streams(_ path: String) throws -> String {
        let r = try sh(["ffprobe", "-v", "error", "-show_entries", "stream=codec_name,time_base,nb_frames,start_time,duration", "-of", "csv=p=0", path])
        try #require(r.status == 0, "\(r.err)")
        return r.out
    }
}
