#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif

/// A memory cgroup holding one job's process, made under this process's own cgroup where the machine
/// lets it (cgroup v1's memory controller, or v2 where `memory` is already delegated to our subtree).
/// The kernel then holds the job to its limit exactly; elsewhere the parent's RSS watchdog does.
final class MemoryCgroup {
    let path: String
    let version: Int

    private init(path: String, version: Int) { self.path = path; self.version = version }

    /// Where jobs' groups would go, and which version, or nil when this machine gives us none.
    static let parent: (path: String, version: Int)? = {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        for line in text.split(separator: "\n") {
            let fields = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false).map(String.init)
            guard fields.count == 3 else { continue }
            if fields[1].split(separator: ",").contains("memory") {
                let dir = "/sys/fs/cgroup/memory" + fields[2]
                if access(dir, W_OK) == 0 { return (dir, 1) }
            } else if fields[0] == "0", fields[1].isEmpty {
                let root = FileManager.default.fileExists(atPath: "/sys/fs/cgroup/cgroup.controllers") ? "/sys/fs/cgroup" : "/sys/fs/cgroup/unified"
                let dir = root + fields[2]
                let delegated = (try? String(contentsOfFile: dir + "/cgroup.subtree_control", encoding: .utf8))?
                    .split(whereSeparator: { $0 == " " || $0 == "\n" }).contains("memory") ?? false
                if delegated, access(dir, W_OK) == 0 { return (dir, 2) }
            }
        }
        return nil
    }()

    /// How job memory is held to its limit here, for the server's setup log.
    static var enforcement: String {
        parent.map { "a memory cgroup (v\($0.version)) per job, under \($0.path)" } ?? "a watchdog on each job's resident memory"
    }

    /// Groups left by a server that was killed before it could remove them (named after its pid).
    private static let sweptStale: Void = {
        guard let parent, let names = try? FileManager.default.contentsOfDirectory(atPath: parent.path) else { return }
        for name in names where name.hasPrefix("vfx-job-") {
            let pid = name.dropFirst("vfx-job-".count).split(separator: "-").first.flatMap { pid_t(String($0)) }
            if let pid, pid != getpid(), kill(pid, 0) != 0 { rmdir(parent.path + "/" + name) }
        }
    }()

    /// A new group limited to `limitBytes`, or nil where none can be made.
    static func make(limitBytes: Int) -> MemoryCgroup? {
        guard let parent else { return nil }
        sweptStale
        let path = parent.path + "/vfx-job-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        guard mkdir(path, 0o755) == 0 else { return nil }
        let group = MemoryCgroup(path: path, version: parent.version)
        guard group.write(parent.version == 1 ? "memory.limit_in_bytes" : "memory.max", String(limitBytes)) else {
            group.remove()
            return nil
        }
        if parent.version == 2 { _ = group.write("memory.swap.max", "0") }
        return group
    }

    /// Moves a process into the group; false when the kernel refused.
    func add(_ pid: pid_t) -> Bool { write("cgroup.procs", String(pid)) }

    /// Whether the kernel ended a process of this group for passing the limit.
    var oomKilled: Bool {
        let file = version == 1 ? "memory.oom_control" : "memory.events"
        guard let text = try? String(contentsOfFile: path + "/" + file, encoding: .utf8) else { return false }
        for line in text.split(separator: "\n") where line.hasPrefix("oom_kill ") {
            return (Int(line.dropFirst("oom_kill ".count)) ?? 0) > 0
        }
        return false
    }

    /// Removes the (empty) group; its last process may take a moment to leave it.
    func remove() {
        for _ in 0..<50 {
            if rmdir(path) == 0 || errno == ENOENT { return }
            usleep(10_000)
        }
    }

    private func write(_ file: String, _ value: String) -> Bool {
        let fd = open(path + "/" + file, O_WRONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return value.withCString { Glibc.write(fd, $0, strlen($0)) } == value.utf8.count
    }
}
