import Synchronization

/// A flag that asks a running job to stop; every stage checks it between frames, and FFmpeg's
/// blocking I/O checks it through its interrupt callback.
public final class CancellationFlag: Sendable {
    private let flag = Atomic<Bool>(false)
    private let parent: CancellationFlag?
    public init() { parent = nil }
    /// A flag that is also set whenever `parent` is (cancelling it leaves the parent as it is).
    public init(parent: CancellationFlag) { self.parent = parent }
    public func cancel() { flag.store(true, ordering: .relaxed) }
    public var isCancelled: Bool { flag.load(ordering: .relaxed) || parent?.isCancelled == true }
}
