// swift-tools-version:6.0
// The media path under libFuzzer: a package of its own, so the main package's builds never link a binary
// whose `main` comes from libFuzzer. Built and run by scripts/fuzz.
import Foundation
import PackageDescription

// A path dependency is known by its folder's name, which is wherever the repository was cloned.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()

let package = Package(
    name: "VideoFXFuzz",
    dependencies: [.package(path: "..")],
    targets: [
        .executableTarget(name: "vfx-fuzz", dependencies: [
            .product(name: "Pipeline", package: root.lastPathComponent.lowercased()),
        ]),
    ]
)
