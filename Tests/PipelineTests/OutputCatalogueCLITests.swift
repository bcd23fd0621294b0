import Foundation
import Jobs
import Recipe
import TestSupport
import Testing
@testable import vfx

/// The command line and manifests derive their output facts from the output catalogue.
@Suite(.serialized) struct OutputCatalogueCLITests {
    @Test func helpAndCodecsListEqualTheCatalogue() throws {
        let help = try sh([vfxBinary, "process", "--help"]).out.split(whereSeparator: \.isWhitespace).joined(separator: " ")
        for e in OutputCatalogue.encoders {
            #expect(help.contains(e.name), "\(e.name)")
            if let p = e.defaultPreset { #expect(help.contains("\(e.name) \(p)"), "\(e.name) \(p)") }
        }
        #expect(help.contains(OutputCatalogue.qualityRangesText))
        #expect(help.contains("(default: \(OutputCatalogue.defaultQuality))") && help.contains("(default: \(OutputCatalogue.defaultCodec))"))
        let codecs = try sh([vfxBinary, "codecs", "--json"])
        let listed = try JSONDecoder().decode([[String: AnyCodable]].self, from: Data(codecs.out.utf8)).compactMap { $0["name"]?.string }
        #expect(listed == OutputCatalogue.encoders.map(\.name))
    }

    @Test func aFakeEncoderAppearsInHelpAndManifestChecks() throws {
        OutputCatalogue.register(OutputEncoder(name: "libfake", format: "h264", quality: .init(option: "crf", range: 0...40),
                                               presetOption: "speed", defaultPreset: "7"))
        defer { OutputCatalogue.unregister("libfake") }
        let help = ProcessCommand.helpMessage(columns: 2000)
        #expect(help.contains("libfake") && help.contains("libfake 7") && help.contains("libfake: speed") && help.contains("0...40 for h264"), "\(help)")
        let dir = try Scratch()
        try "input,codec,crf\n/in/a.mp4,libfake,40\n/in/b.mp4,libfake,41\n".write(toFile: dir.path("m.csv"), atomically: true, encoding: .utf8)
        let entries = try Manifest.read(dir.path("m.csv"))
        #expect {
            try BatchPlanner.plan(inputs: [], manifest: entries, outputDirectory: dir.path("out"), names: OutputNames(), steps: [],
                                  settings: OutputSettings())
        } throws: { "\($0)".contains("line 3") && "\($0)".contains("crf 41 is out of range (allowed: 0...40 for libfake)") }
    }
}

/// A JSON value that is a string or anything else (for reading `vfx codecs --json`).
struct AnyCodable: Decodable {
    let string: String?
    init(from decoder: any Decoder) throws { string = try? decoder.singleValueContainer().decode(String.self) }
}
