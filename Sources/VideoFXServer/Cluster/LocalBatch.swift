import Foundation
import Recipe

/// `vfx batch --database`: a batch's items as one fanned-out prediction whose recipes name files on the
/// workers' shared file system. Only the command line queues these (the HTTP API never can): whoever
/// can write to the database can already make workers run anything.
public enum LocalBatch {
    /// The stored job for `recipes` (each with absolute input and output paths).
    public static func jobJSON(_ recipes: [Recipe]) throws -> String {
        String(decoding: try JSONEncoder().encode(PredictionJob(localItems: recipes)), as: UTF8.self)
    }
}
