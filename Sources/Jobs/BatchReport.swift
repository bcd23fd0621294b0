import ErrorTaxonomy

/// Where one batch item ended up.
public enum ItemStatus: String, Sendable, Codable {
    case succeeded, failed, skipped
    case notStarted = "not_started"
}

/// One item of a batch report, in the shape `--report FILE.json` writes.
public struct ItemReport: Sendable, Codable, Equatable {
    public struct Failure: Sendable, Codable, Equatable {
        public var category: ErrorCategory
        public var message: String
        public init(category: ErrorCategory, message: String) { self.category = category; self.message = message }
    }
    public var input: String
    public var output: String
    public var status: ItemStatus
    public var error: Failure?
    public var frames: Int
    public var seconds: Double
    public var encoder: String?
    public var attempts: Int

    public init(input: String, output: String, status: ItemStatus, error: Failure?, frames: Int, seconds: Double, encoder: String?, attempts: Int) {
        self.input = input; self.output = output; self.status = status; self.error = error; self.frames = frames
        self.seconds = seconds; self.encoder = encoder; self.attempts = attempts
    }

    enum CodingKeys: String, CodingKey { case input, output, status, error, frames, seconds, encoder, attempts }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(input, forKey: .input); try c.encode(output, forKey: .output); try c.encode(status, forKey: .status)
        try c.encode(error, forKey: .error)  // null when there is none
        try c.encode(frames, forKey: .frames); try c.encode(seconds, forKey: .seconds)
        try c.encode(self.encoder, forKey: .encoder); try c.encode(attempts, forKey: .attempts)
    }
}

/// A whole batch: every item in input order, and the totals.
public struct BatchReport: Sendable, Codable, Equatable {
    public var items: [ItemReport]
    public var succeeded: Int { items.filter { $0.status == .succeeded }.count }
    public var failed: Int { items.filter { $0.status == .failed }.count }
    public var skipped: Int { items.filter { $0.status == .skipped }.count }
    public var notStarted: Int { items.filter { $0.status == .notStarted }.count }

    public init(items: [ItemReport]) { self.items = items }

    enum CodingKeys: String, CodingKey { case items, succeeded, failed, skipped, notStarted = "not_started" }

    public init(from decoder: any Decoder) throws {
        items = try decoder.container(keyedBy: CodingKeys.self).decode([ItemReport].self, forKey: .items)
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(items, forKey: .items); try c.encode(succeeded, forKey: .succeeded); try c.encode(failed, forKey: .failed)
        try c.encode(skipped, forKey: .skipped); try c.encode(notStarted, forKey: .notStarted)
    }
}
