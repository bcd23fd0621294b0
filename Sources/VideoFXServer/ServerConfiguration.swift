import Foundation

/// Settings for `vfx serve`, with defaults a production deployment can start from.
public struct ServerConfiguration: Sendable {
    public var host = "0.0.0.0"
    public var port = 5000
    /// Predictions that may run at once; further requests get 409.
    public var concurrency = 1
    /// Where finished files are PUT (file name appended); nil returns data URLs.
    public var uploadURL: String?
    /// Largest input video accepted, in bytes.
    public var maxInputBytes = 2 << 30
    /// Seconds a download may take in all.
    public var downloadTimeout: Double = 300
    /// Largest request body accepted, in bytes (data: URLs travel in the body).
    public var maxBodyBytes = 256 << 20
    /// Redirects followed when fetching an input.
    public var maxRedirects = 5
    /// Folder under which each prediction gets its own working folder.
    public var temporaryDirectory = FileManager.default.temporaryDirectory.path
    /// Seconds between SSE keep-alive comments.
    public var keepAliveInterval: Double = 15
    /// Delay before the first webhook retry; doubles each time.
    public var webhookRetryBase: Double = 0.1
    public var webhookRetries = 12

    public init() {}
}
