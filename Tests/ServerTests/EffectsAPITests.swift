import Foundation
import Recipe
import TestSupport
import Testing
@testable import VideoFXServer

/// The API's `effects` input: the chain grammar or an array of steps, validated from the catalogue.
@Suite(.serialized) struct EffectsAPITests {
    @Test func effectsAsStringAndAsArray() async throws {
        let video = try clip(seconds: 2, audio: true)
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, _, tmp in
            let url = fixture + "/files/a.mp4"
            let grammar = try await http(.POST, vfx + "/predictions", json: ["input": [
                "video": url, "output_codec": "libx264", "effects": "trim:start=0.5,end=1.5 | resize:width=80 | posterize:levels=3"]])
            #expect(grammar.object["status"] as? String == "succeeded", "\(grammar.object["error"] ?? "")")
            let dir = try Scratch()
            let (probe, _) = try decodeOutput(grammar.object["output"], in: dir)
            #expect(probe.video?.width == 80 && probe.video?.height == 60)
            #expect(probe.video?.nb_read_frames == "10")
            #expect(abs(probe.duration - 1) < 0.1)
            #expect(probe.audio.count == 1)

            let array = try await http(.POST, vfx + "/predictions", json: ["input": [
                "video": url, "output_codec": "libx264",
                "effects": [["name": "rotate", "params": ["angle": 90]], ["name": "grayscale"]]]])
            #expect(array.object["status"] as? String == "succeeded", "\(array.object["error"] ?? "")")
            let (turned, path) = try decodeOutput(array.object["output"], in: dir)
            #expect(turned.video?.width == 120 && turned.video?.height == 160)
            let rgb = try Media.rgbFrame(path, index: 3)
            let grey = stride(from: 0, to: rgb.count, by: 3).filter { abs(Int(rgb[$0]) - Int(rgb[$0 + 2])) <= 6 }.count
            #expect(Double(grey) / Double(rgb.count / 3) > 0.95)
            #expect(tmp.contents.isEmpty, "left in TMPDIR: \(tmp.contents)")
        }
    }

    /// The `decoder` input: auto decodes on the CPU here and the metrics say so; a device this machine
    /// lacks fails the prediction naming it; anything else is a 422; the schema lists the choices.
    @Test func decoderInput() async throws {
        let video = try clip(seconds: 1)
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, _, _ in
            let auto = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4", "output_codec": "libx264"]])
            #expect(auto.object["status"] as? String == "succeeded", "\(auto.object["error"] ?? "")")
            let streams = (auto.object["metrics"] as? [String: Any])?["streams"] as? [[String: Any]]
            #expect(streams?.first?["decoder_device"] as? String == "cpu", "\(String(describing: streams))")
            let cuda = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4", "decoder": "cuda"]])
            #expect(cuda.object["status"] as? String == "failed")
            #expect((cuda.object["error"] as? String ?? "").contains("decoder cuda was asked for, but no NVDEC (CUDA) device"), "\(cuda.object["error"] ?? "")")
            let bad = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/a.mp4", "decoder": "gpu"]])
            #expect(bad.status == 422)
            #expect(((bad.object["detail"] as? [[String: Any]])?.first?["loc"] as? [String]) == ["body", "input", "decoder"])
            let schema = try await http(.GET, vfx + "/openapi.json")
            // As Cog writes a choice: its own schema, referred to from the input's property.
            let schemas = (schema.object["components"] as? [String: Any])?["schemas"] as? [String: Any]
            let decoder = schemas?["decoder"] as? [String: Any]
            #expect(decoder?["enum"] as? [String] == ["auto", "cpu", "cuda", "vaapi"], "\(String(describing: decoder))")
        }
    }

    @Test func lutByDataURL() async throws {
        let video = try clip(seconds: 1)
        var cube = "LUT_3D_SIZE 2\n"
        for b in 0..<2 { for g in 0..<2 { for r in 0..<2 { cube += "\(1 - r) \(1 - g) \(1 - b)\n" } } }
        let lut = "data:text/plain;base64," + Data(cube.utf8).base64EncodedString()
        try await withServers(files: ["a.mp4": video]) { vfx, fixture, _, _ in
            let r = try await http(.POST, vfx + "/predictions", json: ["input": [
                "video": fixture + "/files/a.mp4", "output_codec": "libx264", "effects": [["name": "lut", "params": ["url": lut]]]]])
            #expect(r.object["status"] as? String == "succeeded", "\(r.object["error"] ?? "")")
            // A path on the server is never read: the API takes http(s) and data: URLs only.
            let local = try await http(.POST, vfx + "/predictions", json: ["input": [
                "video": fixture + "/files/a.mp4", "effects": "lut:url=/etc/passwd"]])
            #expect(local.status == 422)
            let msg = ((local.object["detail"] as? [[String: Any]])?.first?["msg"] as? String) ?? ""
            #expect(msg.contains("must be an http(s) or data: URL"), "\(msg)")
            // A data: URL that is not a LUT fails the prediction, naming the step.
            let bad = try await http(.POST, vfx + "/predictions", json: ["input": [
                "video": fixture + "/files/a.mp4", "output_codec": "libx264", "effects": "lut:url='data:text/plain;base64,aGVsbG8='"]])
            #expect(bad.object["status"] as? String == "failed")
            #expect((bad.object["error"] as? String)?.contains("not a usable .cube LUT") == true, "\(bad.object["error"] ?? "")")
        }
    }

    @Test func badEffectsAre422BeforeAnyDownload() async throws {
        try await withServers { vfx, fixture, recorder, _ in
            for (effects, words) in [("posterize:levels=6,movie=x", "unknown parameter 'movie'"), ("sendcmd", "unknown effect 'sendcmd'"),
                                     ("resize:width=1e9", "resize: width=1e9"), ("blur:sigma=NaN", "finite"),
                                     ("crop:aspect=4:3,height=90", "cannot be given with height")] as [(Any, String)] + [
                                        ([["name": "posterize", "params": ["levels": [1]]]], "must be a number or a string"),
                                        ([["name": "posterize", "extra": 1]], "unknown key 'extra'"),
                                        ([["name": "grain", "params": NSNull()]], "params must be an object"), (42, "must be a string")] {
                let r = try await http(.POST, vfx + "/predictions", json: ["input": ["video": fixture + "/files/never.mp4", "effects": effects]])
                #expect(r.status == 422, "\(effects)")
                let detail = try #require((r.object["detail"] as? [[String: Any]])?.first)
                #expect(detail["loc"] as? [String] == ["body", "input", "effects"])
                #expect((detail["msg"] as? String)?.contains(words) == true, "\(detail)")
            }
            let requests = await recorder.requests
            #expect(requests.isEmpty, "downloaded before validating: \(requests)")
        }
    }

    /// The catalogue, `vfx effects --json` (same data) and `/openapi.json` say the same thing about every step.
    @Test func openAPIDescribesEveryCatalogueStep() async throws {
        try await withServers { vfx, _, _, _ in
            let doc = try await http(.GET, vfx + "/openapi.json").object
            let schemas = try #require((doc["components"] as? [String: Any])?["schemas"] as? [String: Any])
            let branches = try #require((schemas["Step"] as? [String: Any])?["oneOf"] as? [[String: Any]])
            #expect(branches.count == EffectCatalogue.all.count)
            for (branch, entry) in zip(branches, EffectDescription.all) {
                let props = try #require(branch["properties"] as? [String: [String: Any]])
                #expect(props["name"]?["enum"] as? [String] == [entry.name])
                let params = try #require((props["params"]?["properties"]) as? [String: [String: Any]])
                #expect(Set(params.keys) == Set(entry.parameters.map(\.name)), "\(entry.name)")
                for p in entry.parameters {
                    let schema = try #require(params[p.name])
                    #expect(schema["type"] as? String == p.type, "\(entry.name).\(p.name)")
                    if let min = p.min { #expect((schema["minimum"] as? NSNumber)?.doubleValue == min, "\(entry.name).\(p.name)") }
                    if let max = p.max { #expect((schema["maximum"] as? NSNumber)?.doubleValue == max, "\(entry.name).\(p.name)") }
                    if let values = p.values { #expect(schema["enum"] as? [String] == values) }
                    switch p.default {
                    case .integer(let i)?: #expect(schema["default"] as? Int == i)
                    case .number(let d)?: #expect((schema["default"] as? NSNumber)?.doubleValue == d)
                    case .string(let s)?: #expect(schema["default"] as? String == s)
                    case nil: #expect(schema["default"] == nil)
                    }
                }
                let required = ((props["params"]?["required"]) as? [String]) ?? []
                #expect(required == entry.parameters.filter(\.required).map(\.name), "\(entry.name)")
            }
            let input = try #require((schemas["Input"] as? [String: Any])?["properties"] as? [String: [String: Any]])
            // The seed's flat fields take the catalogue's bounds and defaults.
            let levels = EffectDescription.all.first { $0.name == "posterize" }!.parameters[0]
            #expect(input["num_levels"]?["minimum"] as? Int == Int(levels.min!) && input["num_levels"]?["maximum"] as? Int == Int(levels.max!))
            #expect(input["effects"] != nil)
        }
    }
}

/// The schema says each step's cross-parameter rules: for every combination of the parameters a rule
/// names, an independent JSON Schema validator (Python's jsonschema) and the catalogue's validation agree.
@Suite(.enabled(if: TestTools.available, "needs scripts/test-tools (scripts/test runs it)"))
struct StepSchemaRuleTests {
    @Test func schemaAndValidationAgreeOnEveryRuleCombination() throws {
        var cases: [(step: String, params: [String: ParameterValue])] = []
        for d in EffectCatalogue.all where !d.rules.isEmpty {
            let names = Array(Set(d.rules.flatMap(\.names))).sorted()
            // Each named parameter absent or given; choices take each of their values.
            var combos: [[String: ParameterValue]] = [[:]]
            for name in names {
                let spec = try #require(d.parameter(name))
                let values: [ParameterValue]
                switch spec.type {
                case .integer(let r): values = [.integer(r.lowerBound)]
                case .number(let r): values = [.number(r.upperBound)]
                case .choice(let c): values = c.map { .string($0) }
                case .aspect: values = [.string("16:9")]
                case .url: values = [.string("https://example.com/a.cube")]
                }
                combos = combos.flatMap { c in [c] + values.map { v in c.merging([name: v]) { a, _ in a } } }
            }
            cases += combos.map { (d.name, $0) }
        }
        #expect(cases.count >= 24)
        let schema = try JSONEncoder().encode(OpenAPIDocument.stepSchema())
        let steps = try JSONEncoder().encode(cases.map { ChainStep($0.step, $0.params) })
        let script = """
        import json, sys, jsonschema
        schema = json.loads(sys.argv[1])
        for step in json.loads(sys.argv[2]):
            print("valid" if jsonschema.Draft4Validator(schema).is_valid(step) else "invalid")
        """
        let r = try sh([TestTools.path("python3"), "-c", script, String(decoding: schema, as: UTF8.self), String(decoding: steps, as: UTF8.self)])
        try #require(r.status == 0, "\(r.err)")
        let verdicts = r.out.split(separator: "\n").map(String.init)
        try #require(verdicts.count == cases.count)
        for (c, verdict) in zip(cases, verdicts) {
            let accepted = (try? Chain.resolve([ChainStep(c.step, c.params)])) != nil
            #expect((verdict == "valid") == accepted, "\(ChainStep(c.step, c.params).text): schema says \(verdict), validation \(accepted ? "accepts" : "refuses")")
        }
    }
}
