// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "VideoFX",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "vfx", targets: ["vfx"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
        .library(name: "VideoFXServer", targets: ["VideoFXServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.0.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.20.0"),
        .package(url: "https://github.com/apple/swift-log", from: "1.5.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.6.0"),
    ],
    targets: [
        // FFmpeg's C libraries, found through pkg-config, plus a header of inline helpers for macros.
        .systemLibrary(
            name: "CFFmpeg",
            pkgConfig: "libavformat libavcodec libavfilter libswscale libswresample libavutil",
            providers: [.apt(["libavformat-dev", "libavcodec-dev", "libavfilter-dev",
                              "libswscale-dev", "libswresample-dev", "libavutil-dev"])]
        ),
        // Pure Swift pixel kernels: no FFmpeg here.
        // Always optimised, even in debug builds: the kernels are the hot loop and tests run them on real video.
        .target(name: "Effects", swiftSettings: [.unsafeFlags(["-O"])]),
        // Owning Swift wrappers over FFmpeg objects: files, codecs, frames, scalers, filters.
        .target(name: "MediaIO", dependencies: ["CFFmpeg", "Effects"]),
        // Plan + Runner: decode -> effect -> encode with audio alongside.
        .target(name: "Pipeline", dependencies: ["MediaIO", "Effects"]),
        // The Cog-compatible HTTP API.
        .target(name: "VideoFXServer", dependencies: [
            "Pipeline", "Effects", "MediaIO",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        .executableTarget(name: "vfx", dependencies: [
            "Pipeline", "VideoFXServer", "Effects",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
        ]),
        // Helpers the test targets share: scratch folders, ffmpeg/ffprobe checks, the sample clips.
        .target(name: "TestSupport", path: "Tests/TestSupport"),
        .testTarget(name: "EffectsTests", dependencies: ["Effects"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "MediaIO", "Effects", "vfx", "TestSupport"]),
        .testTarget(name: "ServerTests", dependencies: [
            "VideoFXServer", "TestSupport",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "HummingbirdTesting", package: "hummingbird"),
        ]),
    ]
)
