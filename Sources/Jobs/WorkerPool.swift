import Dispatch
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Runs blocking jobs on a fixed number of threads: `vfx batch` runs items through it, and the
/// server runs a prediction's `videos` through one. Memory grows with the number of workers, never
/// with the number of items (each worker takes the next index only when it is free).
public final class WorkerPool: Sendable {
    public let workers: Int

    public init(workers: Int) { self.workers = max(1, workers) }

    /// The default number of concurrent jobs for `cores` cores: a CPU encoder runs its own threads, so
    /// below 4 cores every core gets a job with one codec thread each (small clips do not keep an
    /// encoder's threads busy), and from 4 up half the cores get a job with two threads each.
    public static func defaultWorkers(cores: Int) -> (jobs: Int, threadsPerJob: Int) {
        cores < 4 ? (max(1, cores), 1) : (cores / 2, 2)
    }

    /// Calls `body` for indices 0..<count, at most `workers` at once, starting in index order;
    /// `shouldStart` is asked before each start (false: leave the rest). Blocks until all have finished.
    public func run(count: Int, shouldStart: @escaping @Sendable () -> Bool, body: @escaping @Sendable (Int) -> Void) {
        let next = Mutex(0)
        let group = DispatchGroup()
        for _ in 0..<min(workers, max(count, 0)) {
            group.enter()
            WorkerThread.detach {
                defer { group.leave() }
                while true {
                    let index: Int? = next.withLock { n in
                        guard n < count, shouldStart() else { return nil }
                        n += 1
                        return n - 1
                    }
                    guard let index else { return }
                    body(index)
                }
            }
        }
        group.wait()
    }
}

/// A plain thread with a big enough stack for FFmpeg's decoders (Dispatch's worker threads are
/// limited in number and share a pool with everything else).
public enum WorkerThread {
    /// Runs `body` on a new detached thread with an 8 MiB stack.
    public static func detach(_ body: @escaping @Sendable () -> Void) {
        final class Box: @unchecked Sendable {
            // Sendable: written once before the thread starts, read once by it.
            let body: @Sendable () -> Void
            init(_ body: @escaping @Sendable () -> Void) { self.body = body }
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        pthread_attr_setstacksize(&attributes, 8 << 20)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let box = Unmanaged.passRetained(Box(body)).toOpaque()
        var thread = pthread_t()
        let started = pthread_create(&thread, &attributes, { raw in
            let box = Unmanaged<AnyObject>.fromOpaque(raw!).takeRetainedValue() as! Box
            box.body()
            return nil
        }, box)
        pthread_attr_destroy(&attributes)
        if started != 0 {
            // No thread: run here rather than lose the work.
            Unmanaged<AnyObject>.fromOpaque(box).takeRetainedValue()
            body()
        }
    }
}
