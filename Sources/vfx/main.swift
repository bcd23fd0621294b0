import ArgumentParser

// This binary links no Foundation and no server stack, which keeps `vfx process` small; `vfx serve`
// (the `Serve` command) hands its arguments to the `vfx-server` binary beside it. `vfx help serve`
// would only describe that hand-over, so it asks the server for its options instead.
if Array(CommandLine.arguments.dropFirst()) == ["help", "serve"] {
    ServerLauncher.exec(arguments: ["--help"])
}
VFX.main()

struct VFX: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vfx",
        abstract: "VideoFX: stream a video through a chain of effects into H.264, HEVC, AV1 or VP9.",
        subcommands: [ProcessCommand.self, BatchCommand.self, CompareCommand.self, EffectsCommand.self, PreviewCommand.self, Probe.self, Codecs.self, Serve.self, WorkerCommand.self, QueueCommand.self, WorkersCommand.self, DatabaseCommand.self, BenchKernels.self]
    )
}
