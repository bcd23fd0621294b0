// swift-tools-version:6.0
import PackageDescription

// The SIMD kernels are compiled once per x86-64 level as well, and Effects picks a copy at run time.
#if arch(x86_64)
let instructionSetKernels: [Target] = [
    .target(name: "PixelKernelsAVX2", dependencies: ["PixelKernels"],
            swiftSettings: [.unsafeFlags(["-O", "-target-cpu", "haswell"])]),
    .target(name: "PixelKernelsAVX512", dependencies: ["PixelKernels"],
            swiftSettings: [.unsafeFlags(["-O", "-target-cpu", "skylake-avx512"])]),
]
#else
let instructionSetKernels: [Target] = []
#endif

let package = Package(
    name: "VideoFX",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vfx", targets: ["vfx"]),
        .executable(name: "vfx-server", targets: ["vfx-server"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "VideoFXServer", targets: ["VideoFXServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
        .package(url: "https://github.com/apple/swift-nio-extras", from: "1.20.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.0.0"),
        .package(url: "https://github.com/vapor/postgres-nio", from: "1.21.0"),
        .package(url: "https://github.com/vapor/multipart-kit", from: "4.7.0"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.27.0"),
    ],
    targets: [
        // FFmpeg's C libraries, found through pkg-config, plus a header of inline helpers for macros.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat libavcodec libavfilter libswscale libswresample libavutil",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavfilter-dev",
                              "libswscale-dev", "libswresample-dev", "libavutil-dev"])]
        ),
        // Pure Swift pixel kernels: planes, colour maths and the SIMD loops, all inlinable.
        // Always optimised, even in debug builds: the kernels are the hot loop and tests run them on real video.
        .target(name: "PixelKernels", swiftSettings: [.unsafeFlags(["-O"])]),
        // Which x86-64 level this CPU reaches.
        .target(name: "CPUFeatures"),
        // Effects and their parameters, over the kernel copy this CPU runs best.
        .target(name: "Effects",
                dependencies: ["PixelKernels", "CPUFeatures"] + instructionSetKernels.map { .target(name: $0.name) },
                swiftSettings: [.unsafeFlags(["-O"])]),
        // The error taxonomy (invalid input, bad media, unavailable, cancelled, transient, internal).
        .target(name: "ErrorTaxonomy"),
        // A job described once: the Codable recipe, the chain grammar and the effect catalogue. No FFmpeg.
        .target(name: "Recipe", dependencies: ["Effects", "ErrorTaxonomy"]),
        // Owning Swift wrappers over FFmpeg objects: files, codecs, frames, scalers, filter graphs.
        .target(name: "CFFmpegLog", linkerSettings: [.linkedLibrary("avutil")]),
        .target(name: "MediaIO", dependencies: ["CFFmpeg", "CFFmpegLog", "Effects", "ErrorTaxonomy", "Recipe"]),
        // Plan + Runner: decode -> steps -> encode with audio alongside.
        .target(name: "Pipeline", dependencies: ["MediaIO", "Effects", "Recipe", "ErrorTaxonomy"]),
        // Batches: manifests, output names, the worker pool, resume and reports.
        .target(name: "Jobs", dependencies: ["Pipeline", "Recipe", "MediaIO", "ErrorTaxonomy"]),
        // Codec comparison: quality metrics through MediaIO's filter graphs, BD-rate, reports.
        .target(name: "Analysis", dependencies: ["Pipeline", "Jobs", "MediaIO", "Recipe", "ErrorTaxonomy"]),
        // The cluster's PostgreSQL side: migrations, claims, leases, rescue, cancel, notifications.
        .target(name: "Queue", dependencies: [
            "ErrorTaxonomy",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // The Cog-compatible HTTP API.
        .target(name: "VideoFXServer", dependencies: [
            "Queue",
            "Pipeline", "Effects", "MediaIO", "Recipe", "ErrorTaxonomy", "Jobs",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "NIOHTTPTypes", package: "swift-nio-extras"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "MultipartKit", package: "multipart-kit"),
        ]),
        // The command line. It links neither Foundation nor the server stack, so a `vfx process` job stays
        // small; `vfx serve` execs vfx-server.
        .executableTarget(name: "vfx", dependencies: [
            "Pipeline", "MediaIO", "Effects", "Recipe", "ErrorTaxonomy", "Jobs", "Analysis",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .executableTarget(name: "vfx-server", dependencies: [
            "VideoFXServer", "Queue", "MediaIO", "Pipeline", "Jobs",
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Helpers the test targets share: scratch folders, ffmpeg/ffprobe checks, the sample clips.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "EffectsTests", dependencies: ["Effects", "Recipe"]),
        .testTarget(name: "RecipeTests", dependencies: ["Recipe"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "MediaIO", "Effects", "Recipe", "ErrorTaxonomy", "Jobs", "Analysis", "vfx", "vfx-server", "TestSupport"]),
        .testTarget(name: "ServerTests", dependencies: [
            "VideoFXServer", "Queue", "TestSupport", "Recipe", "Jobs", "MediaIO", "Pipeline", "ErrorTaxonomy", "vfx-server",
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Logging", package: "swift-log"),
        ]),
    ] + instructionSetKernels
)
