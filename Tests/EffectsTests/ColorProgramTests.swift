import Effects
import Foundation
import Recipe
import Testing

/// Colour steps composed into one program: exact for curves, within the stated bound through the lattice.
@Suite struct ColorProgramTests {
    /// The ops of a chain, from the catalogue itself.
    static func ops(_ chain: String) throws -> [ColorOp] {
        try Chain.resolve(try Chain.parse(chain)).flatMap { step -> [ColorOp] in
            guard case .color(let lower) = step.definition.lowering else { return [] }
            return try lower(step.parameters, { _ in [] })
        }
    }

    static let curveChains = ["adjust:brightness=0.1,contrast=1.3,gamma=1.4 | invert | posterize:levels=6 | threshold:level=0.3",
                              "posterize:levels=25", "invert | adjust:gamma=0.5 | posterize:levels=3"]
    static let affineChains = ["sepia", "grayscale | adjust:brightness=0.05", "hue:degrees=120 | sepia:strength=0.5",
                               "adjust:saturation=1.6,contrast=1.1 | hue:degrees=-40", "posterize:levels=8 | sepia | invert",
                               "adjust:brightness=0.1,contrast=1.2,saturation=0.7,gamma=1.1 | hue:degrees=30 | sepia:strength=0.4 | grayscale | invert"]

    /// Programs for the kernel tests: a curve-only one and one with a lattice.
    static let samplePrograms: [ColorProgram] = {
        (try! [ops(curveChains[0]), ops(affineChains[4]), ops(affineChains[5]), [gradeLUT.colorOp] + ops("sepia")].map { ops -> ColorProgram in
            guard case .program(let p)? = ColorComposer.compose(ops) else { fatalError("\(ops) did not compose") }
            return p
        })
    }()

    static func randomPixels(_ n: Int) -> [SIMD3<UInt8>] {
        var rng = SystemRandomNumberGenerator()
        return (0..<n).map { _ in SIMD3(UInt8.random(in: 0...255, using: &rng), UInt8.random(in: 0...255, using: &rng), UInt8.random(in: 0...255, using: &rng)) }
            + [SIMD3(0, 0, 0), SIMD3(255, 255, 255), SIMD3(255, 0, 0), SIMD3(0, 255, 0), SIMD3(0, 0, 255), SIMD3(128, 128, 128)]
    }

    @Test(arguments: curveChains)
    func curvesComposeExactly(chain: String) throws {
        let ops = try Self.ops(chain)
        let map = try #require(ColorComposer.compose(ops))
        for v in 0...255 {
            let p = SIMD3<UInt8>(UInt8(v), UInt8(255 - v), UInt8((v * 7) & 255))
            #expect(map.reference(p) == ColorComposer.sequential(ops, p), "\(chain) at \(p)")
        }
    }

    /// Matrices (grayscale, saturation, sepia, hue) run as exact stages: no approximation at all.
    @Test(arguments: affineChains)
    func matrixChainsComposeExactly(chain: String) throws {
        let ops = try Self.ops(chain)
        let map = try #require(ColorComposer.compose(ops))
        for p in Self.randomPixels(50_000) {
            #expect(map.reference(p) == ColorComposer.sequential(ops, p), "\(chain) at \(p)")
        }
    }

    /// A smooth 17-point .cube LUT: a gentle grade (lifted blacks, warm highlights, a little cross-talk).
    static let gradeLUT: CubeLUT = {
        var text = "LUT_3D_SIZE 17\n"
        for b in 0..<17 { for g in 0..<17 { for r in 0..<17 {
            let (x, y, z) = (Double(r) / 16, Double(g) / 16, Double(b) / 16)
            let out = [0.04 + 0.9 * pow(x, 0.9) + 0.04 * y, 0.03 + 0.92 * pow(y, 0.95), 0.05 + 0.85 * z + 0.05 * x]
            text += out.map { String(min(1, $0)) }.joined(separator: " ") + "\n"
        } } }
        return try! CubeLUT(bytes: Array(text.utf8))
    }()

    @Test func latticeStaysWithinTheBound() throws {
        for ops in [[Self.gradeLUT.colorOp], [Self.gradeLUT.colorOp] + (try Self.ops("sepia:strength=0.5 | adjust:gamma=1.2")),
                    (try Self.ops("posterize:levels=8")) + [Self.gradeLUT.colorOp] + (try Self.ops("invert"))] {
            let map = try #require(ColorComposer.compose(ops))
            var worst = 0, total = 0
            let pixels = Self.randomPixels(50_000)
            for p in pixels {
                let a = map.reference(p), b = ColorComposer.sequential(ops, p)
                let d = max(abs(Int(a.x) - Int(b.x)), abs(Int(a.y) - Int(b.y)), abs(Int(a.z) - Int(b.z)))
                worst = max(worst, d); total += d
            }
            #expect(worst <= ColorComposer.latticeTolerance, "worst \(worst)")
            #expect(Double(total) / Double(pixels.count) < 0.6, "mean \(Double(total) / Double(pixels.count))")
        }
    }

    @Test func aSingleSeedEffectKeepsItsArithmeticLanes() throws {
        guard case .channel(.posterize(levels: 6))? = ColorComposer.compose(try Self.ops("posterize:levels=6")) else {
            Issue.record("posterize alone should run on its own lanes"); return
        }
        #expect(ColorComposer.compose([]) == nil)
    }

    @Test func grayscaleMakesChannelsEqual() throws {
        let map = try #require(ColorComposer.compose(try Self.ops("grayscale")))
        for p in Self.randomPixels(2000) {
            let g = map.reference(p)
            #expect(abs(Int(g.x) - Int(g.y)) <= 1 && abs(Int(g.y) - Int(g.z)) <= 1)
        }
    }
}

@Suite struct CubeLUTTests {
    static let identity2 = """
        TITLE "identity"
        # a comment
        LUT_3D_SIZE 2
        0 0 0
        1 0 0
        0 1 0
        1 1 0
        0 0 1
        1 0 1
        0 1 1
        1 1 1
        """

    @Test func identityLUTLeavesColours() throws {
        let lut = try CubeLUT(bytes: Array(Self.identity2.utf8))
        #expect(lut.size == 2)
        for p in ColorProgramTests.randomPixels(500) { #expect(lut.colorOp.apply(p) == p) }
    }

    @Test func swappedChannelsLUT() throws {
        // Output red is input blue: entries list (b, g, r) of each node.
        var text = "LUT_3D_SIZE 3\n"
        for b in 0..<3 { for g in 0..<3 { for r in 0..<3 { text += "\(Double(b) / 2) \(Double(g) / 2) \(Double(r) / 2)\n" } } }
        let lut = try CubeLUT(bytes: Array(text.utf8))
        #expect(lut.colorOp.apply(SIMD3(200, 100, 10)) == SIMD3(10, 100, 200))
    }

    @Test(arguments: [
        ("LUT_3D_SIZE 2\n0 0 0\n", "1 entries where LUT_3D_SIZE 2 needs 8"),
        ("LUT_3D_SIZE 999\n", "line 1: LUT_3D_SIZE must be 2...65"),
        ("0 0 0\n", "line 1: expected a keyword"),
        ("LUT_3D_SIZE 2\n0 0 nan\n", "line 2: expected three numbers"),
        ("LUT_1D_SIZE 16\n", "1D LUTs are not supported"),
        ("hello", "line 1: expected a keyword"),
        ("", "no LUT_3D_SIZE"),
    ])
    func malformedFilesNameTheProblem(text: String, message: String) {
        #expect {
            try CubeLUT(bytes: Array(text.utf8))
        } throws: { "\($0)".contains(message) }
    }

    /// A file that is not a LUT (a server may be pointed at any file) is refused without quoting it.
    @Test func rejectedFileIsNotEchoed() {
        let text = "root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
        #expect {
            try CubeLUT(bytes: Array(text.utf8))
        } throws: { error in
            let message = "\(error)"
            return message.contains("line 1") && !message.contains("root") && !message.contains("bash")
        }
    }

    @Test func oversizedFileIsRefused() {
        #expect(throws: CubeLUT.ParseError.self) { try CubeLUT(bytes: [UInt8](repeating: 32, count: CubeLUT.maxBytes + 1)) }
    }
}
