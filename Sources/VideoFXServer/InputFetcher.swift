import AsyncHTTPClient
import Foundation
import Pipeline
import ErrorTaxonomy
import NIOCore

/// Brings a prediction's `video` input to a local file: streams http(s) downloads to disk under a
/// size cap and one hard deadline for the whole download, decodes data: URLs strictly.
struct InputFetcher: Sendable {
    let http: OutboundHTTP
    let configuration: ServerConfiguration
    /// This server's uploads: a URL naming one of them is read from disk, with no outbound request.
    var files: (any FileStorage)? = nil

    enum FetchError: Error, CategorizedError, CustomStringConvertible {
        case badStatus(Int, String), tooLarge(Int), timeout(String, Double), badDataURL(String), unreachable(String, String)
        /// 5xx and timeouts may pass; a 4xx, a refused connection or a bad URL will not.
        var category: ErrorCategory {
            switch self {
            case .badStatus(let code, _): return code >= 500 || code == 429 || code == 408 ? .transient : .unavailable
            case .timeout: return .transient
            case .unreachable: return .unavailable
            case .tooLarge, .badDataURL: return .invalidInput
            }
        }
        var description: String {
            switch self {
            case let .badStatus(code, url): return "could not download the input video from \(url): HTTP \(code)"
            case let .tooLarge(limit): return "the input video is larger than the \(limit / (1 << 20)) MiB limit (max_input_bytes)"
            case let .timeout(url, s): return "downloading the input video from \(url) took longer than the \(s) s limit (download timeout)"
            case let .badDataURL(why): return "the input data: URL is not valid: \(why)"
            case let .unreachable(url, why): return "could not download the input video from \(url): \(why)"
            }
        }
    }

    /// Writes the input to `path`; returns the bytes downloaded (0 for a data: URL).
    func fetch(_ url: String, to path: String) async throws -> Int {
        if url.lowercased().hasPrefix("data:") {
            let bytes: [UInt8]
            do { bytes = try DataURL.bytes(url, maxBytes: configuration.maxInputBytes) } catch {
                switch error {
                case .malformed(let why): throw FetchError.badDataURL(why)
                case .tooLarge(let n): throw FetchError.tooLarge(n)
                }
            }
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return 0
        }
        if let files, let id = FileStore.id(inURL: url), let contents = try await files.contents(id) {
            switch contents {
            case .path(let stored):
                // A hard link (the job's folder is beside the store's): no copy, and a delete meanwhile leaves it whole.
                if link(stored, path) != 0 { try FileManager.default.copyItem(atPath: stored, toPath: path) }
            case .bytes(let bytes):
                try Data(bytes.readableBytesView).write(to: URL(fileURLWithPath: path))
            }
            return 0
        }
        let limit = configuration.downloadTimeout
        do {
            return try await withDeadline(seconds: limit) { try await download(url, to: path) }
        } catch is DeadlineExceeded {
            throw FetchError.timeout(url, limit)
        }
    }

    private func download(_ url: String, to path: String) async throws -> Int {
        let deadline = NIODeadline.now() + .milliseconds(Int64(configuration.downloadTimeout * 1000))
        do {
            return try await http.withResponse(url, deadline: deadline, what: "video \(url)") { response in
                guard (200..<300).contains(response.status.code) else { throw FetchError.badStatus(Int(response.status.code), url) }
                if let length = response.headers.first(name: "content-length").flatMap(Int.init), length > configuration.maxInputBytes {
                    throw FetchError.tooLarge(configuration.maxInputBytes)
                }
                guard FileManager.default.createFile(atPath: path, contents: nil) else {
                    throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
                }
                let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: path))
                defer { try? handle.close() }
                var total = 0
                for try await buffer in response.body {
                    total += buffer.readableBytes
                    guard total <= configuration.maxInputBytes else { throw FetchError.tooLarge(configuration.maxInputBytes) }
                    try handle.write(contentsOf: Data(buffer.readableBytesView))
                }
                return total
            }
        } catch let e as FetchError { throw e } catch let e as OutboundPolicy.Refusal { throw e } catch let e as CancellationError {
            throw e
        } catch let e as HTTPClientError where e == .deadlineExceeded || e == .readTimeout {
            throw FetchError.timeout(url, configuration.downloadTimeout)
        } catch {
            if Task.isCancelled { throw CancellationError() }
            throw FetchError.unreachable(url, "\(error)")
        }
    }
}
