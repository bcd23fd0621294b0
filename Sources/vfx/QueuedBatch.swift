import ArgumentParser
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import ErrorTaxonomy
import Jobs

/// `vfx batch --database`: the planned items go to the cluster's queue through `vfx-server batch-queue`
/// (this binary links no database client), whose events, read as JSON lines, are drawn as a local
/// batch's; items whose output is already there are skipped here, as `vfx batch` skips them.
enum QueuedBatchRunner {
    struct Spec: Encodable { let items: [BatchItem]; let retries: Int }

    static func run(items: [BatchItem], database: String, detach: Bool, options: BatchOptions, quiet: Bool, reportPath: String?) throws -> Int32 {
        let cwd = FileManager.default.currentDirectoryPath
        func absolute(_ p: String) -> String { p.hasPrefix("/") || p.contains("://") ? p : cwd + "/" + p }
        var reports: [ItemReport?] = Array(repeating: nil, count: items.count)
        var queued: [(Int, BatchItem)] = []
        for (i, item) in items.enumerated() {
            if !options.force, let frames = Batch.finishedOutput(item.recipe.output) {
                reports[i] = ItemReport(input: item.recipe.input, output: item.recipe.output, status: .skipped, error: nil, frames: frames,
                                        seconds: 0, encoder: nil, attempts: 0)
                continue
            }
            var item = item
            item.recipe.input = absolute(item.recipe.input)
            item.recipe.output = absolute(item.recipe.output)
            queued.append((i, item))
        }
        let screen = BatchScreen(quiet: quiet)
        for (i, r) in reports.enumerated() { if let r { screen.handle(.finished(index: i, r)) } }
        var report = BatchReport(items: reports.compactMap { $0 })
        if !queued.isEmpty {
            let spec = FileManager.default.temporaryDirectory.appendingPathComponent("vfx-batch-\(UInt64.random(in: 0...UInt64.max)).json").path
            defer { unlink(spec) }
            try JSONEncoder().encode(Spec(items: queued.map(\.1), retries: options.retries)).write(to: URL(fileURLWithPath: spec))
            var args = ["batch-queue", "--database", database, "--spec", spec]
            if detach { args.append("--detach") }
            if !quiet { screen.line("\(queued.count) item\(queued.count == 1 ? "" : "s") queued in the cluster's database") }
            let followed = try follow(args, screen: screen, indices: queued.map(\.0))
            guard let got = followed.report else {
                if detach, let id = followed.id { print(id); return 0 }
                printError("error: vfx-server batch-queue ended without a report: \(followed.errors)")
                return 1
            }
            for (j, r) in got.items.enumerated() where j < queued.count { reports[queued[j].0] = r }
            report = BatchReport(items: reports.compactMap { $0 })
        }
        screen.finish()
        BatchRunner.printSummary(report, interrupted: false)
        if let reportPath, !BatchRunner.write(report, to: reportPath) { return 1 }
        return report.failed > 0 || report.notStarted > 0 ? 1 : 0
    }

    struct Line: Decodable { let queued: String?; let event: String?; let report: String? }

    /// Runs `vfx-server` with `args`, handing each event it prints to the screen (with the item's index
    /// in the whole batch); returns the queued prediction's id, the report, and what it said on stderr.
    static func follow(_ args: [String], screen: BatchScreen, indices: [Int]) throws -> (id: String?, report: BatchReport?, errors: String) {
        var out: [Int32] = [0, 0], err: [Int32] = [0, 0]
        guard pipe(&out) == 0, pipe(&err) == 0 else { throw ExitCode(1) }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, out[1], 1)
        posix_spawn_file_actions_adddup2(&actions, err[1], 2)
        posix_spawn_file_actions_addclose(&actions, out[0])
        posix_spawn_file_actions_addclose(&actions, err[0])
        let server = ServerLauncher.serverPath()
        let argv = ([server] + args).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        var pid: pid_t = 0
        guard posix_spawn(&pid, server, &actions, nil, argv, environ) == 0 else {
            printError("error: vfx batch --database runs \(server), which could not start")
            throw ExitCode(1)
        }
        close(out[1]); close(err[1])
        var id: String?, report: BatchReport?, pending = [UInt8](), buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = read(out[0], &buffer, buffer.count)
            if n <= 0 { break }
            pending += buffer[0..<n]
            while let nl = pending.firstIndex(of: 10) {
                let line = Array(pending[..<nl])
                pending.removeSubrange(...nl)
                guard let parsed = try? JSONDecoder().decode(Line.self, from: Data(line)) else { continue }
                if let q = parsed.queued { id = q }
                if let e = parsed.event, let event = try? JSONDecoder().decode(BatchEvent.self, from: Data(e.utf8)) {
                    screen.handle(reindexed(event, indices))
                }
                if let r = parsed.report { report = try? JSONDecoder().decode(BatchReport.self, from: Data(r.utf8)) }
            }
        }
        close(out[0])
        var errors = [UInt8]()
        while true {
            let n = read(err[0], &buffer, buffer.count)
            if n <= 0 { break }
            errors += buffer[0..<n]
        }
        close(err[0])
        var status: Int32 = 0
        while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        let text = String(decoding: errors, as: UTF8.self)
        let said = String(text.drop { $0.isWhitespace }.reversed().drop { $0.isWhitespace }.reversed())
        if report == nil, !said.isEmpty { printError(said) }
        return (id, report, said)
    }

    /// An event of the queued items, with the index the item has in the whole batch.
    static func reindexed(_ event: BatchEvent, _ indices: [Int]) -> BatchEvent {
        func whole(_ i: Int) -> Int { i < indices.count ? indices[i] : i }
        switch event {
        case .started(let i, let item): return .started(index: whole(i), item)
        case .finished(let i, let r): return .finished(index: whole(i), r)
        case .log(let i, let text): return .log(index: whole(i), text)
        case .progress: return event
        }
    }
}
