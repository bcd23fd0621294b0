import Foundation
import Jobs
import Pipeline

/// Settings for `vfx serve`, with defaults safe for a server that faces the internet.
public struct ServerConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 5000
    /// Predictions that may run at once; further requests get 409.
    public var concurrency = 1
    /// Codec threads per job (0: FFmpeg's choice), as `vfx batch --threads`.
    public var threads = 0
    /// Where finished files are PUT (file name appended); nil returns data URLs.
    public var uploadURL: String?

    // MARK: Limits

    /// Largest input video accepted, in bytes.
    public var maxInputBytes = 2 << 30
    /// Largest output returned or uploaded, in bytes.
    public var maxOutputBytes = 2 << 30
    /// Seconds a download may take in all.
    public var downloadTimeout: Double = 300
    /// Downloads that may run at once; more wait for a turn.
    public var maxConcurrentDownloads = 4
    /// Largest request body accepted, in bytes (data: URLs travel in the body).
    public var maxBodyBytes = 128 << 20
    /// Serve the playground page at `/playground` (and send browsers there from `/`).
    public var playground = true
    /// How long an upload to `/files` is kept (seconds).
    public var fileTTL: Double = 3600
    /// The most bytes all uploads to `/files` may hold together.
    public var maxFilesBytes = 4096 << 20
    /// Most JSON values (objects, arrays, strings, numbers...) a request body may hold.
    public var maxJSONElements = 10_000
    /// What a video may be: checked after probing, before decoding, and again while decoding.
    public var mediaLimits = MediaLimits(maxWidth: 4096, maxHeight: 4096, maxPixels: 4096 * 2304,
                                         maxFrames: 54_000, maxDuration: 900)
    /// Most videos in one prediction's `videos`.
    public var maxBatchItems = 16
    /// Most bytes of input all of one prediction's videos may add up to.
    public var maxBatchInputBytes = 8 << 30
    /// Redirects followed when fetching an input.
    public var maxRedirects = 5
    /// Seconds a client has to send a request's headers after connecting.
    public var headerTimeout: Double = 10
    /// Seconds an idle connection stays open.
    public var idleTimeout: Double = 60

    // MARK: Security

    /// Allow URLs (inputs, redirects, webhooks, uploads) that resolve to loopback or private addresses.
    /// Link-local and metadata addresses stay refused.
    public var allowPrivateURLs = false
    /// When set, every endpoint but `/health-check` needs `Authorization: Bearer <token>`.
    public var authToken: String?
    /// Whether `POST /shutdown` works (off: anyone who can reach the port could stop the server).
    public var enableShutdown = false
    /// Bearer token sent with webhooks, to the hosts in `webhookTokenHosts` only.
    public var webhookToken: String?
    public var webhookTokenHosts: Set<String> = []

    // MARK: Behaviour

    /// Folder under which each prediction gets its own working folder.
    public var temporaryDirectory = FileManager.default.temporaryDirectory.path
    /// Seconds between SSE keep-alive comments.
    public var keepAliveInterval: Double = 15
    /// Delay before the first webhook retry; doubles each time.
    public var webhookRetryBase: Double = 0.1
    public var webhookRetries = 12
    /// Seconds all retries of one terminal webhook may take together.
    public var webhookRetryBudget: Double = 60
    /// Seconds shutdown waits for running predictions and webhooks before cancelling them.
    public var shutdownGrace: Double = 10
    /// Finished predictions kept for GET, idempotent PUT and cancel: at most this many, in at most this
    /// many bytes (outputs included; the oldest go first).
    /// In a cluster, the largest output kept in PostgreSQL as a data URL when there is no upload URL
    /// (nil in one process, where only `maxOutputBytes` applies).
    public var maxStoredOutputBytes: Int?
    /// In a cluster, a prediction whose video runs longer than this many seconds is split into chunk
    /// tasks any workers take, then stitched (0: never).
    public var splitAboveSeconds = SplitSetting.autoAboveSeconds
    /// The chunk length of a split prediction, in seconds.
    public var splitChunkSeconds = SplitSetting.autoChunkSeconds
    /// What a cluster node takes for `maxStoredOutputBytes` unless told otherwise.
    public static let defaultMaxStoredOutputBytes = 256 << 20
    public var keepFinished = 1000
    public var keepFinishedBytes = 256 << 20

    // MARK: Jobs

    /// The binary whose `run-job` runs each job in a child process of its own (`vfx serve` sets its
    /// own); nil runs jobs on a thread of the server process, for embedders without that binary.
    public var jobExecutable: String?
    /// What one job's process may use (memory, CPU time, open files, file size).
    public var jobLimits = ProcessLimits()
    /// Variables added to every job process's environment (tests set `VFX_TEST_JOB_FAULT` here).
    public var jobEnvironment: [String: String] = [:]

    public init() {}
}
