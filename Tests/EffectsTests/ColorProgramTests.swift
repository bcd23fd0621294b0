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
                              "posterize:levels=25", "invert | adjust:gamma=0.5 | posterize:levels=3", "invert",
                              "adjust:brightness=0.05,contrast=1.2", "adjust:contrast=3.7", "adjust:brightness=-0.4"]
    static let affineChains = ["sepia", "grayscale | adjust:brightness=0.05", "hue:degrees=120 | sepia:strength=0.5",
                               "adjust:saturation=1.6,contrast=1.1 | hue:degrees=-40", "posterize:levels=8 | sepia | invert",
                               "adjust:brightness=0.1,contrast=1.2,saturation=0.7,gamma=1.1 | hue:degrees=30 | sepia:strength=0.4 | grayscale | invert"]

    /// Programs for the kernel tests: curves alone, with matrices, and with a 3D LUT read each way.
    static let samplePrograms: [ColorProgram] = {
        (try! [ops(curveChains[0]), ops(affineChains[4]), ops(affineChains[5]), [gradeLUT.colorOp()] + ops("sepia"),
               ops("posterize:levels=12") + [gradeLUT.colorOp(.trilinear)] + ops("invert"), [wildLUT.colorOp()]].map { ops -> ColorProgram in
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

    /// A rough 5-point LUT with values beyond 0...1 and a domain narrower than 0...1: every node
    /// differs from its neighbours, so a wrong corner or weight shows.
    static let wildLUT: CubeLUT = {
        var text = "DOMAIN_MIN 0.1 0.05 0\nDOMAIN_MAX 0.9 1 0.8\nLUT_3D_SIZE 5\n"
        var state: UInt32 = 7
        for _ in 0..<125 {
            text += (0..<3).map { _ in
                state = state &* 1_103_515_245 &+ 12345
                return String(Double(state >> 16 & 0x7FFF) / 0x7FFF * 1.2 - 0.1)
            }.joined(separator: " ") + "\n"
        }
        return try! CubeLUT(bytes: Array(text.utf8))
    }()

    /// A LUT stage is the LUT's own interpolation, rounded once: the program equals the steps one by one.
    @Test func lutStagesAreExact() throws {
        for ops in [[Self.gradeLUT.colorOp()], [Self.wildLUT.colorOp(.trilinear)] + (try Self.ops("sepia:strength=0.5 | adjust:gamma=1.2")),
                    (try Self.ops("posterize:levels=8")) + [Self.gradeLUT.colorOp()] + (try Self.ops("invert"))] {
            let map = try #require(ColorComposer.compose(ops))
            for p in Self.randomPixels(50_000) { #expect(map.reference(p) == ColorComposer.sequential(ops, p), "at \(p)") }
        }
    }

    /// Both interpolations reproduce a LUT that is linear in the colour exactly, meet every node, and
    /// differ inside a cell; tetrahedral reads a grey from the grey diagonal's nodes alone.
    @Test func interpolationsAgreeWhereTheyMust() throws {
        func lut(_ f: (Double, Double, Double) -> [Double]) throws -> CubeLUT {
            var text = "LUT_3D_SIZE 3\n"
            for b in 0..<3 { for g in 0..<3 { for r in 0..<3 {
                text += f(Double(r) / 2, Double(g) / 2, Double(b) / 2).map { String($0) }.joined(separator: " ") + "\n"
            } } }
            return try CubeLUT(bytes: Array(text.utf8))
        }
        let linear = try lut { r, g, b in [0.1 + 0.5 * r + 0.3 * g, 0.8 * g + 0.1 * b, 0.2 + 0.7 * b - 0.1 * r] }
        for interpolation in CubeInterpolation.allCases {
            guard case .lut(let grid) = linear.colorOp(interpolation) else { Issue.record("not a LUT op"); return }
            for p in Self.randomPixels(2000) {
                let x = SIMD3(Double(p.x), Double(p.y), Double(p.z)) / 255
                let want = SIMD3(0.1 + 0.5 * x.x + 0.3 * x.y, 0.8 * x.y + 0.1 * x.z, 0.2 + 0.7 * x.z - 0.1 * x.x) * 255
                let d = grid.exact(p) - want
                #expect(max(abs(d.x), abs(d.y), abs(d.z)) < 1e-3, "\(interpolation) at \(p)")
            }
        }
        // Off the grey diagonal the nodes are pushed away; a grey input must not see them with tetrahedral.
        let bent = try lut { r, g, b in (r == g && g == b) ? [r, g, b] : [min(1, r + 0.3), g, max(0, b - 0.3)] }
        guard case .lut(let tetra) = bent.colorOp(.tetrahedral), case .lut(let tri) = bent.colorOp(.trilinear) else { return }
        for v in stride(from: 0, through: 255, by: 5) {
            let grey = SIMD3<UInt8>(repeating: UInt8(v))
            #expect(tetra.reference(grey) == grey, "tetrahedral moved grey \(v)")
            if (10...118).contains(v) || (137...245).contains(v) { #expect(tri.reference(grey) != grey, "trilinear should blend the bent nodes into grey \(v)") }
        }
        // At the corner nodes both give the node.
        for p in [SIMD3<UInt8>(0, 0, 0), SIMD3(255, 255, 255), SIMD3(255, 0, 0), SIMD3(0, 255, 255)] {
            #expect(tetra.reference(p) == tri.reference(p))
        }
    }

    @Test func aSingleSeedEffectKeepsItsArithmeticLanes() throws {
        guard case .channel(.posterize(levels: 6))? = ColorComposer.compose(try Self.ops("posterize:levels=6")) else {
            Issue.record("posterize alone should run on its own lanes"); return
        }
        #expect(ColorComposer.compose([]) == nil)
        // Brightness, contrast and invert are lines: computed in lanes, not looked up.
        for chain in ["invert", "adjust:brightness=0.05,contrast=1.2", "adjust:contrast=0.5"] {
            guard case .channel(.linear)? = ColorComposer.compose(try Self.ops(chain)) else { Issue.record("\(chain) should run on linear lanes"); continue }
        }
        guard case .program? = ColorComposer.compose(try Self.ops("adjust:contrast=1.2,gamma=1.4")) else {
            Issue.record("a gamma curve is a table"); return
        }
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
        for p in ColorProgramTests.randomPixels(500) { for i in CubeInterpolation.allCases { #expect(lut.colorOp(i).apply(p) == p) } }
    }

    @Test func swappedChannelsLUT() throws {
        // Output red is input blue: entries list (b, g, r) of each node.
        var text = "LUT_3D_SIZE 3\n"
        for b in 0..<3 { for g in 0..<3 { for r in 0..<3 { text += "\(Double(b) / 2) \(Double(g) / 2) \(Double(r) / 2)\n" } } }
        let lut = try CubeLUT(bytes: Array(text.utf8))
        for i in CubeInterpolation.allCases { #expect(lut.colorOp(i).apply(SIMD3(200, 100, 10)) == SIMD3(10, 100, 200)) }
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
