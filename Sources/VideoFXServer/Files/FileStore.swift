import Foundation
import NIOCore

/// A stored upload as the files API shows it (the shape of Replicate's files API).
public struct StoredFile: Codable, Sendable, Equatable {
    public struct URLs: Codable, Sendable, Equatable { public var get: String }
    public var id: String
    public var name: String
    public var content_type: String
    public var size: Int
    public var created_at: String
    public var expires_at: String
    public var urls: URLs
}

/// Why an upload was refused.
enum FileStoreError: Error, CustomStringConvertible, Equatable {
    /// One file larger than the limit on one file (`option` names it).
    case fileTooLarge(limit: Int, option: String)
    /// The files together would pass the total.
    case storeFull(limit: Int)

    var description: String {
        switch self {
        case let .fileTooLarge(limit, option): return "the file is larger than the \(limit >> 20) MiB limit on an uploaded file (\(option))"
        case .storeFull(let limit): return "the stored files would pass their \(limit >> 20) MiB limit (--max-files-mib); delete some or wait for them to expire"
        }
    }
}

/// A stored file's bytes: a file on this node, or the bytes themselves (from the cluster's database).
enum FileContents: Sendable {
    case path(String)
    case bytes(ByteBuffer)
}

/// Where uploads are kept: ``FileStore`` on this node's disk, or ``PostgresFileStore`` in a cluster's
/// database, where any node (the API node that took it, the worker that runs the prediction) reads it.
protocol FileStorage: Sendable {
    func begin() async throws -> FileStore.Upload
    /// Appends bytes to an upload, or throws (leaving it to ``abandon(_:)``) when a limit is passed.
    func write(_ bytes: Data, to upload: FileStore.Upload) async throws
    /// Keeps a finished upload under `name` (for the record only) and `contentType`.
    func commit(_ upload: FileStore.Upload, name: String, contentType: String, baseURL: String) async throws -> StoredFile
    /// Drops an upload that did not finish.
    func abandon(_ upload: FileStore.Upload) async
    /// A file that has not expired.
    func file(_ id: String) async throws -> StoredFile?
    /// The bytes of a file that has not expired.
    func contents(_ id: String) async throws -> FileContents?
    /// Removes a file; false when there was none.
    func delete(_ id: String) async throws -> Bool
    /// Removes what this node keeps (shutdown).
    func removeAll() async
}

/// Uploads kept on disk for a while, so a prediction or preview can name one as its video without an
/// outbound request. Owns its folder: each file is named by its id (never by the client's name), is
/// counted against a total while it is written, and goes when it expires or is deleted.
actor FileStore: FileStorage {
    private let folder: String
    let ttl: Double
    private let maxFileBytes: Int
    /// The option that sets `maxFileBytes`, for the refusal.
    private let maxFileOption: String
    private let maxTotalBytes: Int
    private var files: [String: (file: StoredFile, expires: Date)] = [:]
    /// Bytes of stored files plus those of uploads under way.
    private var used = 0

    init(folder: String, ttl: Double, maxFileBytes: Int, maxFileOption: String = "--max-input-mib", maxTotalBytes: Int) {
        self.folder = folder; self.ttl = ttl; self.maxFileBytes = maxFileBytes; self.maxFileOption = maxFileOption
        self.maxTotalBytes = maxTotalBytes
    }

    /// An upload being written: bytes are counted as they come, so a large or endless one stops early.
    final class Upload: @unchecked Sendable {
        // Sendable: used by the one request handler that began it, one chunk after another.
        let id: String
        let path: String
        fileprivate(set) var size = 0
        fileprivate let handle: FileHandle
        fileprivate init(id: String, path: String, handle: FileHandle) { self.id = id; self.path = path; self.handle = handle }
    }

    func begin() throws -> Upload {
        sweep()
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let id = PredictionService.newID()
        let path = folder + "/" + id
        guard FileManager.default.createFile(atPath: path, contents: nil) else {
            throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: path])
        }
        return Upload(id: id, path: path, handle: try FileHandle(forWritingTo: URL(fileURLWithPath: path)))
    }

    /// Appends bytes to an upload, or throws (leaving it to ``abandon(_:)``) when a limit is passed.
    func write(_ bytes: Data, to upload: Upload) throws {
        guard upload.size + bytes.count <= maxFileBytes else { throw FileStoreError.fileTooLarge(limit: maxFileBytes, option: maxFileOption) }
        guard used + bytes.count <= maxTotalBytes else { throw FileStoreError.storeFull(limit: maxTotalBytes) }
        try upload.handle.write(contentsOf: bytes)
        upload.size += bytes.count
        used += bytes.count
    }

    /// Keeps a finished upload under `name` (for the record only) and `contentType`.
    func commit(_ upload: Upload, name: String, contentType: String, baseURL: String) throws -> StoredFile {
        try upload.handle.close()
        let now = Date(), expires = now.addingTimeInterval(ttl)
        let file = StoredFile(id: upload.id, name: name, content_type: contentType, size: upload.size,
                              created_at: Prediction.timestamp(now), expires_at: Prediction.timestamp(expires),
                              urls: .init(get: baseURL + "/files/" + upload.id))
        files[upload.id] = (file, expires)
        return file
    }

    /// Drops an upload that did not finish.
    func abandon(_ upload: Upload) {
        try? upload.handle.close()
        unlink(upload.path)
        used -= upload.size
    }

    /// A file that has not expired.
    func file(_ id: String) -> StoredFile? {
        sweep()
        return files[id]?.file
    }

    /// Where a file that has not expired lies on disk.
    func path(of id: String) -> String? { file(id) == nil ? nil : folder + "/" + id }

    func contents(_ id: String) -> FileContents? { path(of: id).map(FileContents.path) }

    /// Removes a file; false when there was none.
    func delete(_ id: String) -> Bool {
        guard let entry = files.removeValue(forKey: id) else { return false }
        unlink(folder + "/" + id)
        used -= entry.file.size
        return true
    }

    /// Removes expired files.
    func sweep(now: Date = Date()) {
        for (id, entry) in files where entry.expires <= now { _ = delete(id) }
    }

    /// Removes every file and the folder (shutdown).
    func removeAll() {
        for id in Array(files.keys) { _ = delete(id) }
        try? FileManager.default.removeItem(atPath: folder)
    }

    /// The id a `video` URL names when it points at this server's files API (`.../files/ID` or
    /// `.../files/ID/download`), whatever its host; nil otherwise.
    static func id(inURL url: String) -> String? {
        guard let components = URLComponents(string: url), ["http", "https"].contains(components.scheme?.lowercased() ?? "") else { return nil }
        var parts = components.path.split(separator: "/").map(String.init)
        if parts.last == "download" { parts.removeLast() }
        guard parts.count >= 2, parts[parts.count - 2] == "files", let id = parts.last,
              id.count == 26, id.allSatisfy({ ($0.isLowercase || $0.isNumber) && $0.isASCII }) else { return nil }
        return id
    }
}
