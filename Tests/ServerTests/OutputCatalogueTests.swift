import Foundation
import MediaIO
import Recipe
import Testing
@testable import VideoFXServer

/// The API derives every output fact from the output catalogue: walk the catalogue and compare, then add
/// a fake encoder and see it appear everywhere.
@Suite(.serialized) struct OutputCatalogueTests {
    func codecSchema() throws -> (names: [String], crfMaxByCodec: [String: Int], crf: [String: Any]) {
        let doc = try JSONSerialization.jsonObject(with: JSONEncoder().encode(OpenAPIDocument.make())) as! [String: Any]
        let input = try #require(((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])?["Input"] as? [String: Any])
        let schemas = try #require((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])
        let names = try #require((schemas["output_codec"] as? [String: Any])?["enum"] as? [String])
        var maxima: [String: Int] = [:]
        let branches = try #require(((input["allOf"] as? [[String: Any]])?.first?["anyOf"]) as? [[String: Any]])
        for b in branches {
            let props = try #require(b["properties"] as? [String: [String: Any]])
            for name in props["output_codec"]?["enum"] as? [String] ?? [] { maxima[name] = props["crf"]?["maximum"] as? Int }
        }
        let crf = try #require((input["properties"] as? [String: [String: Any]])?["crf"])
        return (names, maxima, crf)
    }

    @Test func openAPIAndValidationEqualTheCatalogue() throws {
        let (names, maxima, crf) = try codecSchema()
        #expect(names == OutputCatalogue.encoders.map(\.name))
        for e in OutputCatalogue.encoders { #expect(maxima[e.name] == e.quality.range.upperBound, "\(e.name)") }
        #expect(crf["minimum"] as? Int == OutputCatalogue.qualityBounds.lowerBound)
        #expect(crf["maximum"] as? Int == OutputCatalogue.qualityBounds.upperBound)
        #expect(crf["default"] as? Int == OutputCatalogue.defaultQuality)
        #expect((crf["description"] as? String)?.contains(OutputCatalogue.qualityRangesText) == true)
        let field = try #require(InputSchema.fields.first { $0.name == "output_codec" })
        #expect(field.defaultValue == .string(OutputCatalogue.defaultCodec))
    }

    @Test func aFakeEncoderAppearsEverywhere() throws {
        OutputCatalogue.register(OutputEncoder(name: "libfake", format: "h264", quality: .init(option: "crf", range: 0...40),
                                               defaultPreset: "fast", ladder: 10...30))
        defer { OutputCatalogue.unregister("libfake") }
        let (names, maxima, _) = try codecSchema()
        #expect(names.contains("libfake") && maxima["libfake"] == 40)
        // Validation takes it, with its own range.
        #expect(throws: Never.self) { try Recipe(input: "a.mp4", output: "b.mp4", settings: .init(codec: "libfake", quality: 40)).validate() }
        #expect { try Recipe(input: "a.mp4", output: "b.mp4", settings: .init(codec: "libfake", quality: 41)).validate() } throws: {
            "\($0)" == "crf 41 is out of range (allowed: 0...40 for libfake)"
        }
        #expect { try Recipe(input: "a.mp4", output: "b.webm", settings: .init(codec: "libfake")).validate() } throws: {
            "\($0)".contains("WebM cannot hold H264 video")
        }
        // The server's input check knows its range, and `vfx codecs` lists it (unavailable here).
        let field = try #require(InputSchema.fields.first { $0.name == "output_codec" })
        guard case .choice(let choices) = field.kind else { Issue.record("output_codec is a choice"); return }
        #expect(choices.contains("libfake"))
        let probed = try #require(CodecCatalog.probe().first { $0.name == "libfake" })
        #expect(!probed.opens && probed.reason?.contains("not in this FFmpeg build") == true)
        #expect(OutputCatalogue.qualityRangesText.contains("0...40 for h264"))
    }
}
