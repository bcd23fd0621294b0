#if canImport(Glibc)
import Glibc
#endif
import MediaIO
import Pipeline

// One input file through probe, demux, decode, a colour and a spatial step, and an encode, under
// limits that keep each run small. Any thrown error is a clean refusal; a crash or a sanitizer
// report is a finding. The file lives in memory-backed /dev/shm and is removed after each run.
private let scratch = "/dev/shm/vfx-fuzz-\(getpid())"

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzMedia(_ data: UnsafePointer<UInt8>, _ size: Int) -> Int32 {
    let input = scratch + ".in", output = scratch + ".mkv"
    guard let file = fopen(input, "wb") else { return 0 }
    fwrite(data, 1, size, file)
    fclose(file)
    defer { unlink(input); unlink(output) }
    _ = try? MediaInfo.probe(input, options: .untrustedLocalFile)
    var request = ProcessRequest(input: input, output: output, steps: [ChainStep("posterize", ["levels": .integer(4)]),
                                                                        ChainStep("blur", ["sigma": .number(1)])])
    request.outputCodec = "libx264"
    request.preset = "ultrafast"
    request.threads = 1
    FFmpegLog.configure(verbose: false)
    request.inputOptions = .untrustedLocalFile
    request.limits = MediaLimits(maxWidth: 1024, maxHeight: 1024, maxPixels: 320 * 240, maxFrames: 16, maxDuration: 60,
                                 maxOutputBytes: 4 << 20)
    _ = try? Runner(request: request).run()
    return 0
}

// SwiftPM links an executable's entry point under the name `vfx_fuzz_main`; hand control to libFuzzer's driver.
@_silgen_name("LLVMFuzzerRunDriver")
private func runDriver(_ argc: UnsafeMutablePointer<Int32>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
                       _ callback: @convention(c) (UnsafePointer<UInt8>, Int) -> Int32) -> Int32

@_cdecl("vfx_fuzz_main")
public func fuzzMain(_ argc: Int32, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?) -> Int32 {
    var count = argc
    var arguments = argv
    return runDriver(&count, &arguments, { data, size in fuzzMedia(data, size) })
}
