import Foundation
import HTTPTypes
import Hummingbird
import MultipartKit
import NIOCore

/// The files API (as Replicate's): `POST /files` stores the `content` field of a multipart/form-data
/// body, `GET /files/{id}` tells of it, `GET /files/{id}/download` gives it back, `DELETE /files/{id}`
/// removes it. A stored file's `urls.get` may be a prediction's or a preview's `video`.
struct FileRoutes: Sendable {
    let files: any FileStorage

    func register(on router: Router<ServerRequestContext>) {
        router.post("/files") { request, _ in try await upload(request) }
        router.get("/files/:file_id") { _, context in
            guard let file = try await files.file(context.parameters.get("file_id") ?? "") else { return notFound() }
            return json(.ok, file)
        }
        router.get("/files/:file_id/download") { _, context in
            let id = context.parameters.get("file_id") ?? ""
            guard let file = try await files.file(id), let contents = try await files.contents(id) else { return notFound() }
            let body: ResponseBody
            switch contents {
            case .path(let path): body = try await FileIO().loadFile(path: path, context: context)
            case .bytes(let bytes): body = ResponseBody(byteBuffer: bytes)
            }
            var headers = HTTPFields()
            headers[.contentType] = file.content_type
            headers[.contentLength] = String(file.size)
            return Response(status: .ok, headers: headers, body: body)
        }
        router.delete("/files/:file_id") { _, context in
            try await files.delete(context.parameters.get("file_id") ?? "") ? Response(status: .noContent) : notFound()
        }
    }

    private func notFound() -> Response {
        json(.notFound, JSONValue.object(["detail": "no file with this id (files expire; see expires_at)"]))
    }

    private func refuse(_ status: HTTPResponse.Status, _ message: String) -> Response {
        json(status, JSONValue.object(["detail": .string(message)]))
    }

    /// Streams the `content` part to disk as it arrives, within the limits; other parts are ignored.
    private func upload(_ request: Request) async throws -> Response {
        let contentType = request.headers[.contentType] ?? ""
        guard contentType.lowercased().hasPrefix("multipart/form-data"), let boundary = Self.boundary(contentType) else {
            return refuse(.unsupportedMediaType, "POST /files takes multipart/form-data with the file in the field 'content'")
        }
        let upload = try await files.begin()
        do {
            let response = try await receive(request, boundary: boundary, into: upload)
            if response.status != .created { await files.abandon(upload) }
            return response
        } catch {
            await files.abandon(upload)
            if let refusal = error as? FileStoreError { return refuse(.contentTooLarge, refusal.description) }
            throw error
        }
    }

    /// Writes the body's `content` part into `upload` and keeps it (201), or answers why not (the caller
    /// drops the upload then).
    private func receive(_ request: Request, boundary: String, into upload: FileStore.Upload) async throws -> Response {
        let part = PartReader()
        let parser = MultipartParser(boundary: boundary)
        parser.onHeader = { name, value in part.header(name, value) }
        parser.onBody = { buffer in part.body(&buffer) }
        parser.onPartComplete = { part.complete() }
        for try await buffer in request.body {
            do { try parser.execute(buffer) } catch {
                // The parser's own errors are private to it: all of them mean a body that is not multipart.
                return refuse(.badRequest, "the multipart body cannot be read (it does not follow its boundary's syntax)")
            }
            let chunk = part.take()
            if !chunk.isEmpty { try await files.write(chunk, to: upload) }
        }
        guard part.found else { return refuse(Self.invalid, "the multipart body has no field 'content' (the file to store)") }
        guard part.done else { return refuse(.badRequest, "the multipart body ended before its closing boundary") }
        let file = try await files.commit(upload, name: part.filename ?? "content", contentType: part.contentType ?? "application/octet-stream",
                                          baseURL: "http://" + (request.head.authority ?? "localhost"))
        return json(.created, file)
    }

    static let invalid = HTTPResponse.Status(code: 422)

    /// The boundary parameter of a multipart Content-Type (quoted or not; RFC 2046 allows 1 to 70 characters).
    static func boundary(_ contentType: String) -> String? {
        guard let value = PartReader.parameter("boundary", in: contentType), !value.isEmpty, value.count <= 70 else { return nil }
        return value
    }
}

/// Follows the parts of a multipart body as the parser finds them, keeping the bytes of the `content`
/// part until they are written.
final class PartReader: @unchecked Sendable {
    // Sendable: used by one request handler, one chunk of the body after another.
    private var headers: [(String, String)] = []
    private var pending = Data()
    private var inContent = false
    private(set) var found = false
    private(set) var done = false
    private(set) var filename: String?
    private(set) var contentType: String?

    func header(_ name: String, _ value: String) { headers.append((name.lowercased(), value)) }

    /// At a part's first bytes (or its end, when it has none): whether it is the first `content` part.
    private func enter() {
        guard !inContent, !found, let disposition = headers.first(where: { $0.0 == "content-disposition" })?.1,
              Self.parameter("name", in: disposition) == "content" else { return }
        inContent = true
        found = true
        filename = Self.parameter("filename", in: disposition)
        contentType = headers.first { $0.0 == "content-type" }?.1
    }

    func body(_ buffer: inout ByteBuffer) {
        enter()
        if inContent { pending.append(contentsOf: buffer.readableBytesView) }
        buffer.moveReaderIndex(to: buffer.writerIndex)
    }

    func complete() {
        enter()
        if inContent { inContent = false; done = true }
        headers = []
    }

    /// The bytes of the `content` part since the last call.
    func take() -> Data {
        defer { pending.removeAll(keepingCapacity: true) }
        return pending
    }

    /// A parameter of a header value such as Content-Disposition or Content-Type (`name="content"`).
    static func parameter(_ key: String, in value: String) -> String? {
        for item in value.split(separator: ";").dropFirst() {
            let pair = item.split(separator: "=", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard pair.count == 2, pair[0].lowercased() == key else { continue }
            return pair[1].hasPrefix("\"") && pair[1].hasSuffix("\"") && pair[1].count >= 2 ? String(pair[1].dropFirst().dropLast()) : pair[1]
        }
        return nil
    }
}
