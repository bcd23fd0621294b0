import AsyncHTTPClient
import Foundation
import NIOCore


/// Brings a prediction's `video` input to a local file: streams http(s) downloads to disk under a
/// size cap and timeout, decodes data: URLs.
struct InputFetcher {
    let client: HTTPClient
    let configuration: ServerConfiguration

    enum FetchError: Error, CustomStringConvertible {
        case badStatus(Int, String), tooLarge(Int), timeout(String), badDataURL, unreachable(String, String)
        var description: String {
            switch self {
            case let .badStatus(code, url): return "could not download the input video from \(url): HTTP \(code)"
            case let .tooLarge(limit): return "the input video is larger than the \(limit / (1 << 20)) MiB limit"
            case let .timeout(url): return "downloading the input video from \(url) timed out"
            case .badDataURL: return "the input data: URL is not valid base64 data"
            case let .unreachable(url, why): return "could not download the input video from \(url): \(why)"
            }
        }
    }

    /// Writes the input to `path`.
    func fetch(_ url: String, to path: String) async throws {
        if url.lowercased().hasPrefix("data:") {
            guard let comma = url.firstIndex(of: ","), url[..<comma].lowercased().hasSuffix(";base64"),
                  let data = Data(base64Encoded: String(url[url.index(after: comma)...]), options: .ignoreUnknownCharacters) else {
                throw FetchError.badDataURL
            }
            guard data.count <= configuration.maxInputBytes else { throw FetchError.tooLarge(configuration.maxInputBytes) }
            try data.write(to: URL(fileURLWithPath: path))
            return
        }
        let deadline = ContinuousClock.now + .milliseconds(Int64(configuration.downloadTimeout * 1000))
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let response: HTTPClientResponse
        do {
            response = try await client.execute(request, timeout: .seconds(Int64(configuration.downloadTimeout)))
        } catch let e as HTTPClientError where e == .deadlineExceeded || e == .readTimeout || e == .connectTimeout {
            throw FetchError.timeout(url)
        } catch {
            throw FetchError.unreachable(url, "\(error)")
        }
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
        do {
            for try await buffer in response.body {
                total += buffer.readableBytes
                guard total <= configuration.maxInputBytes else { throw FetchError.tooLarge(configuration.maxInputBytes) }
                // The read timeout catches a stall; this catches a server that trickles.
                guard ContinuousClock.now < deadline else { throw FetchError.timeout(url) }
                try handle.write(contentsOf: Data(buffer.readableBytesView))
            }
        } catch let e as FetchError { throw e } catch let e as HTTPClientError where e == .deadlineExceeded || e == .readTimeout {
            throw FetchError.timeout(url)
        } catch let e as CancellationError { throw e } catch {
            throw FetchError.unreachable(url, "\(error)")
        }
    }
}
