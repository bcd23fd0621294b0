import Foundation
import Testing
@testable import Effects

/// A random plane with padding after each row; the padding must survive every kernel untouched.
final class TestPlane {
    let width: Int, height: Int, stride: Int
    var bytes: [UInt8]
    init(width: Int, height: Int, padding: Int, seed: inout SystemRandomNumberGenerator) {
        self.width = width; self.height = height; self.stride = width + padding
        bytes = (0..<(stride * height)).map { _ in UInt8.random(in: 0...255, using: &seed) }
    }
    init(copying other: TestPlane) {
        width = other.width; height = other.height; stride = other.stride; bytes = other.bytes
    }
    func withPlane<R>(_ body: (Plane) -> R) -> R {
        bytes.withUnsafeMutableBufferPointer { body(Plane(base: $0.baseAddress!, width: width, height: height, stride: stride)) }
    }
}

@Suite struct ChannelMapTests {
    @Test func posterizeReferenceMatchesTheSpecification() throws {
        for levels in [2, 3, 4, 7, 25, 100, 255, 256] {
            let s = 255.0 / Double(levels - 1)
            var outputs = Set<UInt8>()
            for v in 0...255 {
                let k = (Double(v) / s).rounded()
                let expected = UInt8((k * s + 0.5).rounded(.down))
                let got = Posterize.reference(UInt8(v), levels: levels)
                #expect(got == expected, "levels \(levels) v \(v)")
                outputs.insert(got)
            }
            #expect(outputs.count == levels)
            #expect(outputs.min() == 0 && outputs.max() == 255)
        }
        #expect(Posterize.reference(200, levels: 256) == 200)
    }

    @Test func thresholdReference() throws {
        #expect(Threshold.reference(128, threshold: 0.5) == 255)
        #expect(Threshold.reference(127, threshold: 0.5) == 0)
        #expect(Threshold.reference(0, threshold: 0) == 0)
        #expect(Threshold.reference(1, threshold: 0) == 255)
        #expect(Threshold.reference(255, threshold: 1) == 0)
    }

    static let maps: [ChannelMap] = (2...256).map { ChannelMap.posterize(levels: $0) }
        + [0, 0.1, 0.25, 0.5, 0.5019607843137255, 0.77, 0.999, 1].map { ChannelMap.threshold(cut: $0 * 255) }
        + Self.linearMaps

    /// Brightness and contrast as adjust makes them (and invert): every pair whose values keep clear of rounding ties.
    static let linearMaps: [ChannelMap] = [0, 0.3, 0.77, 1, 1.2, 2.5, 4].flatMap { c in
        [-1, -0.33, 0, 0.05, 0.5, 1].compactMap { b in ChannelMap.affine(scale: c, offset: (b * 255 - 127.5) * c + 127.5) }
    } + [ChannelMap.affine(scale: -1, offset: 255)!]

    @Test func affineMapsNearATieStayTables() {
        #expect(ChannelMap.affine(scale: 1, offset: 0.5) == nil)
        #expect(ChannelMap.affine(scale: 0.5, offset: 0) == nil)  // odd values land on halves
        #expect(ChannelMap.affine(scale: 1.2, offset: -12.75) != nil)
        #expect(Self.linearMaps.count > 20)
    }

    @Test(arguments: InstructionSet.available)
    func fastKernelEqualsReferenceOnEveryValue(isa: InstructionSet) {
        var rng = SystemRandomNumberGenerator()
        for map in Self.maps {
            // One row holding every value, plus a tail that is not a multiple of the vector width.
            let plane = TestPlane(width: 263, height: 1, padding: 5, seed: &rng)
            for v in 0..<256 { plane.bytes[v] = UInt8(v) }
            let reference = TestPlane(copying: plane)
            plane.withPlane { map.apply(to: $0, using: isa) }
            reference.withPlane { map.applyReference(to: $0) }
            #expect(plane.bytes == reference.bytes, "\(map) \(isa)")
        }
    }

    @Test(arguments: [(1, 1, 0), (7, 3, 1), (17, 5, 13), (33, 9, 3), (641, 7, 64), (8, 8, 0)])
    func fastKernelEqualsReferenceOnRandomPlanes(width: Int, height: Int, padding: Int) {
        var rng = SystemRandomNumberGenerator()
        for isa in InstructionSet.available {
            for map in [ChannelMap.posterize(levels: 25), .posterize(levels: 2), .posterize(levels: 77), .threshold(cut: 127.5), .threshold(cut: 3),
                        .affine(scale: 1.2, offset: -12.75)!, .affine(scale: -1, offset: 255)!] {
                let plane = TestPlane(width: width, height: height, padding: padding, seed: &rng)
                let reference = TestPlane(copying: plane)
                plane.withPlane { map.apply(to: $0, using: isa) }
                reference.withPlane { map.applyReference(to: $0) }
                #expect(plane.bytes == reference.bytes, "\(map) \(isa) \(width)x\(height)+\(padding)")
            }
        }
    }

    @Test func everyInstructionSetThisMachineHasIsUsed() {
        // The portable copy always exists; on x86-64 the newer copies must be offered whenever the CPU has them.
        #expect(InstructionSet.available.first == .baseline)
        #expect(InstructionSet.available.contains(InstructionSet.preferred))
        #if arch(x86_64)
        let flags = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if flags.contains(" avx2 ") && flags.contains(" fma ") {
            #expect(InstructionSet.avx2.isAvailable)
        }
        if flags.contains(" avx512bw ") && flags.contains(" avx512vl ") {
            #expect(InstructionSet.avx512.isAvailable)
        }
        #endif
    }

    @Test func effectsApplyToAllThreeChannels() throws {
        var rng = SystemRandomNumberGenerator()
        let planes = (0..<3).map { _ in TestPlane(width: 19, height: 3, padding: 2, seed: &rng) }
        let copies = planes.map(TestPlane.init(copying:))
        let map = ChannelMap.posterize(levels: 3)
        planes[0].withPlane { r in planes[1].withPlane { g in planes[2].withPlane { b in
            for p in RGBPlanes(r: r, g: g, b: b).all { map.apply(to: p) } } } }
        copies[0].withPlane { r in copies[1].withPlane { g in copies[2].withPlane { b in
            for p in RGBPlanes(r: r, g: g, b: b).all { map.applyReference(to: p) } } } }
        for i in 0..<3 {
            #expect(planes[i].bytes == copies[i].bytes)
            for y in 0..<3 { for x in 0..<19 { #expect([0, 128, 255].contains(planes[i].bytes[y * planes[i].stride + x])) } }
        }
    }
}

@Suite struct FusedKernelTests {
    struct Layout: Sendable, CustomStringConvertible {
        let width: Int, height: Int, sx: Int, sy: Int, padding: Int
        /// The destination's chroma shifts (the source's unless given).
        let outSX: Int, outSY: Int
        init(width: Int, height: Int, sx: Int, sy: Int, padding: Int, outSX: Int? = nil, outSY: Int? = nil) {
            self.width = width; self.height = height; self.sx = sx; self.sy = sy; self.padding = padding
            self.outSX = outSX ?? sx; self.outSY = outSY ?? sy
        }
        /// The same image size with the destination's subsampling.
        var output: Layout { Layout(width: width, height: height, sx: outSX, sy: outSY, padding: padding + 2) }
        var description: String { "\(width)x\(height) shift \(sx),\(sy) -> \(outSX),\(outSY) pad \(padding)" }
    }

    static let layouts: [Layout] = [
        Layout(width: 1, height: 1, sx: 1, sy: 1, padding: 0),
        Layout(width: 37, height: 11, sx: 1, sy: 1, padding: 3),
        Layout(width: 64, height: 8, sx: 1, sy: 1, padding: 0),
        Layout(width: 301, height: 7, sx: 1, sy: 1, padding: 5),
        Layout(width: 29, height: 6, sx: 1, sy: 0, padding: 7),
        Layout(width: 23, height: 5, sx: 0, sy: 0, padding: 1),
        // Different subsampling in and out: 4:2:2 or 4:4:4 in, 4:2:0 out, and the other way round.
        Layout(width: 45, height: 9, sx: 1, sy: 0, padding: 3, outSX: 1, outSY: 1),
        Layout(width: 64, height: 6, sx: 1, sy: 0, padding: 0, outSX: 1, outSY: 1),
        Layout(width: 33, height: 7, sx: 0, sy: 0, padding: 2, outSX: 1, outSY: 1),
        Layout(width: 31, height: 5, sx: 0, sy: 0, padding: 1, outSX: 1, outSY: 0),
        Layout(width: 35, height: 7, sx: 1, sy: 1, padding: 4, outSX: 0, outSY: 0),
        Layout(width: 19, height: 3, sx: 1, sy: 1, padding: 0, outSX: 1, outSY: 0),
    ]

    final class Image {
        let y: TestPlane, u: TestPlane, v: TestPlane, layout: Layout
        init(_ l: Layout, rng: inout SystemRandomNumberGenerator) {
            layout = l
            y = TestPlane(width: l.width, height: l.height, padding: l.padding, seed: &rng)
            let cw = (l.width + (1 << l.sx) - 1) >> l.sx, ch = (l.height + (1 << l.sy) - 1) >> l.sy
            u = TestPlane(width: cw, height: ch, padding: l.padding, seed: &rng)
            v = TestPlane(width: cw, height: ch, padding: l.padding, seed: &rng)
        }
        init(blankLike o: Image) {
            layout = o.layout
            y = TestPlane(copying: o.y); u = TestPlane(copying: o.u); v = TestPlane(copying: o.v)
        }
        func with<R>(_ body: (YUVImage) -> R) -> R {
            y.withPlane { yp in u.withPlane { up in v.withPlane { vp in
                body(YUVImage(y: yp, u: up, v: vp, chromaShiftX: layout.sx, chromaShiftY: layout.sy)) } } }
        }
    }

    @Test(arguments: layouts)
    func fusedKernelMatchesScalarReference(layout: Layout) {
        var rng = SystemRandomNumberGenerator()
        for isa in InstructionSet.available {
        for map in [PixelMap.channel(.posterize(levels: 25)), .channel(.posterize(levels: 4)), .channel(.threshold(cut: 127.5)),
                    .channel(.affine(scale: 1.2, offset: -12.75)!), nil]
            + ColorProgramTests.samplePrograms.map(PixelMap.program) {
            for cs in [YUVColorSpace.bt601(), .bt709(), .bt709(fullRange: true), .bt2020()] {
                let src = Image(layout, rng: &rng)
                let fast = Image(layout.output, rng: &rng)
                let kernel = FusedYUVKernel(map: map, colorSpace: cs, instructionSet: isa)
                src.with { s in fast.with { kernel.process(s, into: $0) } }
                // RGB values rounded with a hair's bias each way: they differ only where an RGB value
                // sits on a rounding tie, which float arithmetic may break either way.
                let low = Image(blankLike: fast), high = Image(blankLike: fast)
                for (reference, bias) in [(low, -1e-3), (high, 1e-3)] {
                    src.with { s in reference.with {
                        FusedYUVKernel.processReference(map: map, colorSpace: cs, s, into: $0, roundingBias: bias) } }
                }
                for (a, b, c) in [(fast.y, low.y, high.y), (fast.u, low.u, high.u), (fast.v, low.v, high.v)] {
                    for row in 0..<a.height {
                        for x in 0..<a.stride {
                            let i = row * a.stride + x
                            if x >= a.width {
                                #expect(a.bytes[i] == b.bytes[i], "padding changed")
                                continue
                            }
                            let near = abs(Int(a.bytes[i]) - Int(b.bytes[i])) <= 1 || abs(Int(a.bytes[i]) - Int(c.bytes[i])) <= 1
                            #expect(near, "\(isa) \(layout) \(String(describing: map)) \(cs) at \(x),\(row)")
                        }
                    }
                }
            }
        }
        }
    }

    /// A frame cut into bands of rows, each on its own thread, comes out byte for byte as in one piece:
    /// odd heights, every subsampling pair, padded rows, more bands than fit.
    @Test func bandedKernelEqualsOnePiece() {
        var rng = SystemRandomNumberGenerator()
        let layouts = [Layout(width: 37, height: 71, sx: 1, sy: 1, padding: 3), Layout(width: 64, height: 33, sx: 1, sy: 0, padding: 0),
                       Layout(width: 45, height: 97, sx: 1, sy: 0, padding: 5, outSX: 1, outSY: 1),
                       Layout(width: 21, height: 50, sx: 0, sy: 0, padding: 1, outSX: 1, outSY: 1),
                       Layout(width: 35, height: 67, sx: 1, sy: 1, padding: 4, outSX: 0, outSY: 0)]
        for layout in layouts {
            for map in [PixelMap.channel(.posterize(levels: 7)), .program(ColorProgramTests.samplePrograms[3]), nil] {
                let src = Image(layout, rng: &rng)
                let whole = Image(layout.output, rng: &rng)
                let one = FusedYUVKernel(map: map, colorSpace: .bt709())
                src.with { s in whole.with { one.process(s, into: $0) } }
                for bands in [2, 3, 7] {
                    let banded = Image(blankLike: whole)
                    let kernel = FusedYUVKernel(map: map, colorSpace: .bt709(), bands: bands)
                    src.with { s in banded.with { kernel.process(s, into: $0) } }
                    #expect(banded.y.bytes == whole.y.bytes && banded.u.bytes == whole.u.bytes && banded.v.bytes == whole.v.bytes,
                            "\(layout) \(bands) bands \(String(describing: map))")
                }
            }
        }
    }

    @Test func fusedKernelLeavesRowPaddingAlone() {
        var rng = SystemRandomNumberGenerator()
        let layout = Layout(width: 13, height: 4, sx: 1, sy: 1, padding: 6)
        let src = Image(layout, rng: &rng)
        let dst = Image(blankLike: src)
        let before = (dst.y.bytes, dst.u.bytes)
        let kernel = FusedYUVKernel(map: .posterize(levels: 5), colorSpace: .bt601())
        src.with { s in dst.with { kernel.process(s, into: $0) } }
        for row in 0..<4 { for x in 13..<19 { #expect(dst.y.bytes[row * 19 + x] == before.0[row * 19 + x]) } }
        for row in 0..<2 { for x in 7..<13 { #expect(dst.u.bytes[row * 13 + x] == before.1[row * 13 + x]) } }
    }

    @Test func posterizedPixelsDecodeToLevels() {
        // Grey ramp in full-range BT.601 4:4:4: mapped RGB values must sit on the 4 levels.
        let w = 256
        var y = [UInt8](0...255), u = [UInt8](repeating: 128, count: w), v = [UInt8](repeating: 128, count: w)
        var oy = [UInt8](repeating: 0, count: w), ou = oy, ov = oy
        let cs = YUVColorSpace.bt601(fullRange: true)
        y.withUnsafeMutableBufferPointer { yb in u.withUnsafeMutableBufferPointer { ub in v.withUnsafeMutableBufferPointer { vb in
        oy.withUnsafeMutableBufferPointer { oyb in ou.withUnsafeMutableBufferPointer { oub in ov.withUnsafeMutableBufferPointer { ovb in
            let src = YUVImage(y: Plane(base: yb.baseAddress!, width: w, height: 1, stride: w),
                               u: Plane(base: ub.baseAddress!, width: w, height: 1, stride: w),
                               v: Plane(base: vb.baseAddress!, width: w, height: 1, stride: w), chromaShiftX: 0, chromaShiftY: 0)
            let dst = YUVImage(y: Plane(base: oyb.baseAddress!, width: w, height: 1, stride: w),
                               u: Plane(base: oub.baseAddress!, width: w, height: 1, stride: w),
                               v: Plane(base: ovb.baseAddress!, width: w, height: 1, stride: w), chromaShiftX: 0, chromaShiftY: 0)
            FusedYUVKernel(map: .posterize(levels: 4), colorSpace: cs).process(src, into: dst)
        } } } } } }
        for x in 0..<w {
            let expected = Posterize.reference(UInt8(x), levels: 4)
            #expect(oy[x] == expected, "grey \(x)")
            #expect(ou[x] == 128 && ov[x] == 128)
        }
    }
}
