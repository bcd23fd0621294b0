#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MediaIO
import Pipeline

/// Which frame a preview shows, and whether beside the original.
public struct PreviewSpec: Sendable, Codable, Equatable {
    /// Seconds into the output's timeline.
    public var at: Double
    public var compare: Bool
    public init(at: Double, compare: Bool) { self.at = at; self.compare = compare }
}

/// One job as a child process receives it on its standard input: the ``ProcessRequest`` less its
/// closures (resources are files the parent already fetched), plus the limits the child puts on itself.
public struct JobSpec: Sendable, Codable, Equatable {
    public var recipe: Recipe
    public var allowFallback = true
    public var threads = 0
    public var inputName: String?
    public var outputName: String?
    public var limits = MediaLimits.none
    /// FFmpeg's protocol and demuxer allow-lists for the input (nil: FFmpeg's defaults).
    public var protocolWhitelist: String?
    public var formatWhitelist: String?
    /// What steps' `url` parameters name, mapped to the local files holding those bytes.
    public var resources: [String: String] = [:]
    public var processLimits = ProcessLimits()
    /// Set for a preview: one frame of the recipe written to its output as a PNG instead of a video.
    public var preview: PreviewSpec?
    /// Set for a piece of a split job run on its own (a cluster's plan, chunk or stitch task).
    public var split: SplitWork?

    public init(_ request: ProcessRequest, resources: [String: String] = [:], processLimits: ProcessLimits = ProcessLimits()) {
        recipe = request.recipe
        allowFallback = request.allowFallback
        threads = request.threads
        inputName = request.inputName
        outputName = request.outputName
        limits = request.limits
        protocolWhitelist = request.inputOptions.protocolWhitelist
        formatWhitelist = request.inputOptions.formatWhitelist
        self.resources = resources
        self.processLimits = processLimits
    }

    /// The request the engine runs in the child.
    public var request: ProcessRequest {
        var r = ProcessRequest(recipe: recipe)
        r.allowFallback = allowFallback
        r.threads = threads
        r.inputName = inputName
        r.outputName = outputName
        r.limits = limits
        r.inputOptions = InputOptions(protocolWhitelist: protocolWhitelist, formatWhitelist: formatWhitelist)
        if case .chunk(let window)? = split { r.window = window }
        let files = resources
        r.resources = { location in
            guard let path = files[location], let data = FileManager.default.contents(atPath: path) else {
                throw RecipeError.resource(step: "lut", location: location, reason: "was not fetched")
            }
            guard data.count <= LocalResources.maxBytes else {
                throw RecipeError.resource(step: "lut", location: location, reason: "larger than \(LocalResources.maxBytes) bytes")
            }
            return [UInt8](data)
        }
        return r
    }
}

/// Bounds a job's child process puts on itself before it reads any media (setrlimit), and the
/// memory its parent watches.
public struct ProcessLimits: Sendable, Codable, Equatable {
    /// Resident memory, in bytes, past which the parent ends the child.
    public var memoryBytes: Int
    /// CPU seconds (RLIMIT_CPU; the kernel sends SIGXCPU).
    public var cpuSeconds: Int
    /// Open files (RLIMIT_NOFILE).
    public var openFiles: Int
    /// Largest file the child may write, in bytes (RLIMIT_FSIZE; the kernel sends SIGXFSZ).
    public var fileBytes: Int
    /// Seconds the child may go without reporting a frame before the parent ends it (a codec stuck in a
    /// loop on a damaged input reports nothing, and burns CPU until then).
    public var stallSeconds: Double

    /// The least `memoryBytes` a job can start with: the engine idles at about 60 MiB resident.
    public static let minimumMemoryBytes = 128 << 20
    /// Enough for a 1 s 4K clip at x264 `medium` (about 1.1 GB resident).
    public static let defaultMemoryBytes = 2048 << 20

    public init(memoryBytes: Int = ProcessLimits.defaultMemoryBytes, cpuSeconds: Int = 6 * 3600, openFiles: Int = 256,
                fileBytes: Int = 4 << 30, stallSeconds: Double = 300) {
        self.memoryBytes = memoryBytes; self.cpuSeconds = cpuSeconds; self.openFiles = openFiles; self.fileBytes = fileBytes
        self.stallSeconds = stallSeconds
    }
}

/// One line a child writes on its standard output (JSON Lines); nothing else goes there.
public enum JobMessage: Sendable, Codable, Equatable {
    case progress(framesDone: Int, totalFrames: Int?, elapsed: Double)
    case log(String)
    case result(ProcessResult)
    case failure(message: String, category: ErrorCategory)
}

/// A job that failed in its child process, carried across as its message and category.
public struct ChildJobError: Error, CategorizedError, CustomStringConvertible, Equatable {
    public let description: String
    public let category: ErrorCategory
    public init(_ description: String, category: ErrorCategory) { self.description = description; self.category = category }
}

/// A child that ended without a result: a signal, a trap, or a limit.
public enum JobCrash: Error, CategorizedError, CustomStringConvertible, Equatable {
    case signal(Int32)
    case memory(limitBytes: Int)
    case cpuTime(seconds: Int)
    case fileSize(bytes: Int)
    case stalled(seconds: Double)
    /// Exited without saying how the job ended.
    case noResult(status: Int32)

    /// The `reason` label of `vfx_job_crashes_total`.
    public var reason: String {
        switch self {
        case .signal: return "signal"
        case .memory: return "memory"
        case .cpuTime: return "cpu_time"
        case .fileSize: return "file_size"
        case .stalled: return "stalled"
        case .noResult: return "no_result"
        }
    }

    public var category: ErrorCategory {
        switch self {
        case .memory, .cpuTime, .fileSize, .stalled: return .badMedia
        case .signal, .noResult: return .internal
        }
    }

    public var description: String {
        switch self {
        case .signal(let s): return "the engine crashed on this input (signal \(s)); the server keeps serving"
        case .memory(let b): return "the job passed its memory limit of \(b >> 20) MiB (--job-memory-mib)"
        case .cpuTime(let s): return "the job passed its CPU time limit of \(s) s"
        case .fileSize(let b): return "the job passed its file size limit of \(b >> 20) MiB"
        case .stalled(let s): return "the job made no progress for \(Int(s)) s (a codec stuck on this input) and was stopped"
        case .noResult(let status): return "the engine exited with status \(status) without a result"
        }
    }
}

extension JobSpec {
    /// Renders the preview `p` of this job's recipe to its output (a PNG); the result counts one frame.
    public func renderPreview(_ p: PreviewSpec) throws -> ProcessResult {
        let request = self.request
        var preview = Preview(input: request.input, output: request.output, steps: request.steps)
        preview.at = p.at
        preview.sideBySide = p.compare
        preview.resources = request.resources
        preview.limits = request.limits
        preview.inputOptions = request.inputOptions
        preview.inputName = request.inputName
        let started = Date()
        _ = try preview.render()
        return ProcessResult(output: request.output, framesDecoded: 1, framesWritten: 1, encoder: "png", fallbackFrom: nil,
                             audioStreams: 0, seconds: Date().timeIntervalSince(started), framesPerSecond: 0, warnings: [])
    }
}
