import Foundation
@testable import Jobs
@testable import MediaIO
import Pipeline
import Recipe
import Testing
import TestSupport

/// Where the input is decoded (`--decoder`). This machine, like CI, has no NVDEC or VA-API device: `auto`
/// decodes on the CPU and says so in the per-stream report; a device asked for by name fails the job
/// clearly; NVENC's refusals are told apart by what the driver said.
@Suite struct DecoderTests {
    @Test func autoDecodesOnTheCPUHereAndReportsIt() throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, seconds: 1)
        var request = ProcessRequest(input: input, output: dir.path("out.mp4"), steps: try Chain.parse("invert"))
        request.recipe.settings = OutputSettings(codec: "libx264")
        var log: [String] = []
        let result = try Runner(request: request, onLog: { log.append($0) }).run()
        #expect(result.framesWritten == 25)
        #expect(result.streams.first?.decoderDevice == "cpu" && result.streams.first?.decoder == "h264")
        // No device here at all: nothing to say about it.
        #expect(!log.contains { $0.contains("decoder auto") }, "\(log)")
        let file = try InputFile(url: input, name: "in.mp4")
        let decoder = try Decoder(input: file, stream: try file.bestVideoStream(), placement: .auto)
        #expect(decoder.device == nil && decoder.deviceLabel == "cpu")
    }

    @Test(arguments: [DecoderChoice.cuda, .vaapi])
    func aDeviceAskedForByNameThatIsNotHereFailsTheJobNamingIt(choice: DecoderChoice) throws {
        let dir = try Scratch()
        let input = dir.path("in.mp4")
        try Media.make(input, seconds: 1)
        let r = try sh([vfxBinary, "process", input, "-o", dir.path("out.mp4"), "--decoder", choice.rawValue])
        #expect(r.status == ErrorCategory.unavailable.exitCode, "\(r.err)")
        let title = choice == .cuda ? "NVDEC (CUDA)" : "VA-API"
        #expect(r.err.contains("decoder \(choice.rawValue) was asked for, but no \(title) device on this machine ("), "\(r.err)")
        #expect(dir.contents == ["in.mp4"], "\(dir.contents)")
        let bad = try sh([vfxBinary, "process", input, "-o", dir.path("out.mp4"), "--decoder", "gpu"])
        #expect(bad.status != 0 && bad.err.contains("--decoder"), "\(bad.err)")
    }

    @Test func aManifestRowNamesItsDecoder() throws {
        let dir = try Scratch()
        let csv = dir.path("items.csv")
        try "input,decoder\na.mp4,cpu\nb.mp4,\n".write(toFile: csv, atomically: true, encoding: .utf8)
        let entries = try Manifest.read(csv)
        #expect(entries.map(\.settings.decoder) == [.cpu, nil])
        try "input,decoder\na.mp4,gpu\n".write(toFile: csv, atomically: true, encoding: .utf8)
        #expect(throws: (any Error).self) { try Manifest.read(csv) }
        do { _ = try Manifest.read(csv) } catch { #expect("\(error)".contains("decoder 'gpu' must be auto, cpu, cuda, vaapi"), "\(error)") }
    }

    @Test func nvencRefusalsAreToldApart() {
        #expect(NVENCRefusal(["OpenEncodeSessionEx failed: out of memory (10): (no details)"]).kind == .noSessionFree)
        #expect(NVENCRefusal(["OpenEncodeSessionEx failed: incompatible client key (21): (no details)"]).kind == .noSessionFree)
        #expect(NVENCRefusal(["No capable devices found"]).kind == .noEncoderOnGPU)
        #expect(NVENCRefusal(["OpenEncodeSessionEx failed: unsupported device (2): (no details)"]).kind == .noEncoderOnGPU)
        #expect(NVENCRefusal(["Cannot load libcuda.so.1", "Could not dynamically load CUDA"]).kind == .noGPU)
        #expect(NVENCRefusal([]).kind == .noGPU)
        #expect(NVENCRefusal(["something new"]).reason == "NVENC said: something new")
        #expect(NVENCRefusal(["No capable devices found"]).reason.contains("H100 and H200"))
    }
}
