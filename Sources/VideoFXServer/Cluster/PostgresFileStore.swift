import Foundation
import NIOCore
import Queue

/// A cluster's uploads, kept in its database so that any node reads them: the API node that took the
/// upload, the worker that runs a prediction naming it, a node rendering a preview. An upload is
/// received on this node's disk within the limits (one file: the smaller of --max-input-mib and
/// --max-stored-output-mib, since a database row holds it), then stored in one row with its expiry; the
/// cluster's total (--max-files-mib) is checked in the same transaction.
struct PostgresFileStore: FileStorage {
    let queue: TaskQueue
    private let staging: FileStore
    private let maxTotalBytes: Int

    init(queue: TaskQueue, folder: String, configuration: ServerConfiguration) {
        self.queue = queue
        let rowLimit = configuration.maxStoredOutputBytes ?? ServerConfiguration.defaultMaxStoredOutputBytes
        let byRow = rowLimit < configuration.maxInputBytes
        staging = FileStore(folder: folder, ttl: configuration.fileTTL, maxFileBytes: min(rowLimit, configuration.maxInputBytes),
                            maxFileOption: byRow ? "--max-stored-output-mib, which a cluster's database row holds" : "--max-input-mib",
                            maxTotalBytes: configuration.maxFilesBytes)
        maxTotalBytes = configuration.maxFilesBytes
    }

    func begin() async throws -> FileStore.Upload { try await staging.begin() }
    func write(_ bytes: Data, to upload: FileStore.Upload) async throws { try await staging.write(bytes, to: upload) }
    func abandon(_ upload: FileStore.Upload) async { await staging.abandon(upload) }

    func commit(_ upload: FileStore.Upload, name: String, contentType: String, baseURL: String) async throws -> StoredFile {
        let file = try await staging.commit(upload, name: name, contentType: contentType, baseURL: baseURL)
        // The node's copy goes whether the row was written or not.
        let stored: Bool
        do {
            let data = try Data(contentsOf: URL(fileURLWithPath: upload.path))
            let meta = String(decoding: try JSONEncoder().encode(file), as: UTF8.self)
            stored = try await queue.storeFile(id: file.id, meta: meta, data: ByteBuffer(bytes: data), expiresIn: staging.ttl,
                                               maxTotalBytes: maxTotalBytes)
        } catch {
            _ = await staging.delete(file.id)
            throw error
        }
        _ = await staging.delete(file.id)
        guard stored else { throw FileStoreError.storeFull(limit: maxTotalBytes) }
        return file
    }

    func file(_ id: String) async throws -> StoredFile? {
        try await queue.fileMeta(id: id).flatMap { try? JSONDecoder().decode(StoredFile.self, from: Data($0.utf8)) }
    }

    func contents(_ id: String) async throws -> FileContents? {
        try await queue.fileData(id: id).map(FileContents.bytes)
    }

    func delete(_ id: String) async throws -> Bool { try await queue.deleteFile(id: id) }

    /// The stored files outlive this node; only what it was receiving goes.
    func removeAll() async { await staging.removeAll() }
}
