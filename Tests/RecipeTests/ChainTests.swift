import Foundation
import Recipe
import Testing

@Suite struct ChainGrammarTests {
    @Test func parsesTheIssueExample() throws {
        let steps = try Chain.parse("trim:start=2,end=8 | resize:width=1280 | posterize:levels=6 | vignette")
        #expect(steps.map(\.name) == ["trim", "resize", "posterize", "vignette"])
        #expect(steps[0].params == ["start": .string("2"), "end": .string("8")])
        let resolved = try Chain.resolve(steps)
        #expect(resolved[0].parameters.double("end") == 8)
        #expect(resolved[2].parameters.int("levels") == 6)
        #expect(resolved[3].parameters.double("strength") == 0.5)  // the catalogue's default
    }

    @Test func quotedValuesHoldSeparators() throws {
        let steps = try Chain.parse("lut:url='/tmp/a b,c|d.cube' | crop:aspect=16:9 | lut:url='it''s.cube'")
        #expect(steps[0].params["url"] == .string("/tmp/a b,c|d.cube"))
        #expect(steps[1].params["aspect"] == .string("16:9"))
        #expect(steps[2].params["url"] == .string("it's.cube"))
        // Text form round-trips.
        #expect(try Chain.parse(Chain.text(steps)) == steps)
    }

    @Test func emptyChainIsNoSteps() throws {
        #expect(try Chain.parse("   ").isEmpty)
    }

    @Test(arguments: [
        ("posterize:levels=6,movie=x", "posterize: unknown parameter 'movie' (it takes levels)"),
        ("movie:filename=/etc/passwd", "unknown effect 'movie'"),
        ("posterize:levels=1", "posterize: levels=1 must be in 2...256"),
        ("posterize:levels=six", "posterize: levels=six must be a whole number"),
        ("blur:sigma=nan", "blur: sigma=nan must be a finite number"),
        ("blur:sigma=-1", "blur: sigma=-1 must be in 0.1...50"),
        ("resize:width=100000", "resize: width=100000 must be in 16...8192"),
        ("resize", "resize: width or height is required"),
        ("hue", "hue: degrees is required"),
        ("rotate:angle=45", "rotate: angle=45 must be one of 90, 180, 270"),
        ("crop", "crop: width, height or aspect is required"),
        ("crop:aspect=16:9,width=100", "crop: aspect=16:9 cannot be given with width (give one of them)"),
        ("resize:width=100,fit=inside", "resize: fit=inside needs both width and height"),
        ("trim:end=3,duration=1", "cannot be given with end"),
        ("crop:aspect=wide", "crop: aspect=wide must be a ratio"),
        ("posterize | | invert", "expected a step name after '|'"),
        ("posterize:levels", "'levels' in step 'posterize' needs a value"),
        ("posterize:levels=6 invert", "unexpected 'i' after step 'posterize'"),
        ("lut:url='unterminated", "unterminated quote"),
        ("posterize:levels=6,levels=7", "levels is given twice"),
        ("posterize;rm -rf /", "is not a step name"),
        ("scale:w=1", "unknown effect 'scale'"),
    ])
    func badChainsSayWhatIsWrong(chain: String, message: String) {
        #expect {
            try Chain.resolve(try Chain.parse(chain))
        } throws: { error in
            "\(error)".contains(message) && (error as? RecipeError)?.category == .invalidInput
        }
    }

    /// A trim whose end is not after its start passes validation (no schema can compare two values)
    /// and is refused when planned, before any frame moves.
    @Test func trimEndBeforeStartIsRefusedWhenPlanned() throws {
        let step = try #require(try Chain.resolve(try Chain.parse("trim:start=5,end=2")).first)
        guard case .filter(let lower) = step.definition.lowering else { Issue.record("trim is a filter step"); return }
        var shape = StreamShape(width: 320, height: 240, frameRate: 25, duration: 10)
        #expect {
            _ = try lower(step.parameters, &shape)
        } throws: { "\($0)" == "trim: end=2 must be after start (5): the trim keeps nothing" }
    }

    @Test func tooManyStepsAreRefused() {
        #expect(throws: RecipeError.self) { try Chain.parse(Array(repeating: "invert", count: Chain.maxSteps + 1).joined(separator: "|")) }
    }

    @Test func seedInputsKeepTheirMeaning() throws {
        #expect(try Recipe.seedSteps(effect: nil, numLevels: nil, threshold: nil) == [ChainStep("posterize")])
        #expect(try Recipe.seedSteps(effect: "auto", numLevels: nil, threshold: 0.3) == [ChainStep("threshold", ["level": .number(0.3)])])
        #expect(try Recipe.seedSteps(effect: "posterize", numLevels: 8, threshold: 0.3) == [ChainStep("posterize", ["levels": .integer(8)])])
        #expect(try Recipe.seedSteps(effect: "none", numLevels: nil, threshold: nil).isEmpty)
        #expect(throws: RecipeError.self) { try Recipe.seedSteps(effect: "sepia2", numLevels: nil, threshold: nil) }
        // The seed's default (25 levels) lives in the catalogue.
        #expect(try ChainStep("posterize").resolved().parameters.int("levels") == 25)
    }

    @Test func recipeRoundTripsThroughJSON() throws {
        let recipe = Recipe(input: "in.mp4", output: "out.mkv", steps: try Chain.parse("trim:start=1.5 | posterize:levels=6"),
                            settings: OutputSettings(codec: "libx264", quality: 20, audio: .drop))
        let data = try JSONEncoder().encode(recipe)
        #expect(try JSONDecoder().decode(Recipe.self, from: data) == recipe)
    }
}

@Suite struct CatalogueTests {
    @Test func everyEntryHasTheIssueNames() {
        let names = Set(EffectCatalogue.all.map(\.name))
        for name in ["trim", "resize", "crop", "fps", "rotate", "flip", "speed", "posterize", "threshold", "invert", "grayscale",
                     "sepia", "adjust", "hue", "lut", "blur", "sharpen", "edges", "pixelate", "vignette", "grain", "fade"] {
            #expect(names.contains(name), "\(name) missing")
        }
        #expect(names.count == EffectCatalogue.all.count, "duplicate names")
    }

    @Test func everyDefaultIsValidForItsOwnParameter() throws {
        for d in EffectCatalogue.all {
            for p in d.parameters {
                if let v = p.defaultValue { #expect(try p.validate(v, step: d.name) == v, "\(d.name).\(p.name)") }
            }
        }
    }

    @Test func filterStepsOnlyUseAllowedFilters() throws {
        // The same list MediaIO's FilterGraph enforces; nothing that reads files, opens sockets or loads code.
        let forbidden = ["movie", "amovie", "sendcmd", "asendcmd", "zmq", "azmq", "lut3d", "frei0r", "ladspa", "lv2", "subtitles", "ass", "drawtext"]
        let shape = StreamShape(width: 640, height: 360, frameRate: 25, duration: 10)
        for d in EffectCatalogue.all {
            guard case .filter(let lower) = d.lowering else { continue }
            var params: [String: ParameterValue] = [:]
            for p in d.parameters where p.required || (p.defaultValue == nil && ["width", "rate"].contains(p.name)) {
                if case .integer(let r) = p.type { params[p.name] = .integer(r.lowerBound) }
                if case .number(let r) = p.type { params[p.name] = .number(r.lowerBound) }
            }
            if d.name == "crop" { params = ["aspect": .string("1:1")] }
            var s = shape
            let fragment = try lower(try ChainStep(d.name, params).resolved().parameters, &s)
            for node in fragment.video + fragment.audio { #expect(!forbidden.contains(node.name), "\(d.name) uses \(node.name)") }
        }
    }

    @Test func geometryFollowsTheSteps() throws {
        func shape(_ chain: String, _ start: StreamShape) throws -> StreamShape {
            var s = start
            for step in try Chain.resolve(try Chain.parse(chain)) {
                if case .filter(let lower) = step.definition.lowering { _ = try lower(step.parameters, &s) }
            }
            return s
        }
        let hd = StreamShape(width: 1920, height: 1080, frameRate: 30, duration: 10)
        #expect(try shape("resize:width=1280", hd).height == 720)
        #expect(try shape("resize:height=360", hd).width == 640)
        let inside = try shape("resize:width=500,height=500,fit=inside", hd)
        #expect(inside.width == 500 && inside.height == 282)
        let square = try shape("crop:aspect=1:1", hd)
        #expect(square.width == 1080 && square.height == 1080)
        let turned = try shape("rotate:angle=90", hd)
        #expect(turned.width == 1080 && turned.height == 1920)
        let timed = try shape("trim:start=2,duration=4 | speed:factor=2 | fps:rate=12", hd)
        #expect(timed.duration == 2 && timed.frameRate == 12)
        #expect(throws: RecipeError.self) { try shape("crop:x=1900,y=0,width=100,height=100", hd) }
        #expect(throws: RecipeError.self) { try shape("trim:start=20", hd) }
    }
}
