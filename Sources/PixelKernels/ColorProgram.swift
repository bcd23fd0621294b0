/// A colour transform on 8-bit RGB compiled for the kernels: a per-channel curve, then an optional
/// RGB lattice (a 3D LUT, trilinear), then a second per-channel curve.
///
/// Curves are exact 8-bit tables. The lattice has nodes every ``latticeStep`` code values
/// (0, 5, ..., 255 on each axis); between nodes it interpolates trilinearly and rounds to 8 bits.
/// Immutable after `init`.
public final class ColorProgram: @unchecked Sendable {
    // Sendable: every buffer is written only in `init` and read-only afterwards.

    /// Code values between lattice nodes on each axis.
    public static let latticeStep = 5
    /// Nodes per lattice axis.
    public static let latticeSize = 255 / latticeStep + 1

    public let pre: [UInt8]?
    public let post: [UInt8]?
    /// Node values (R, G, B, 0) at index `((r * size) + g) * size + b`, unclamped.
    public let lattice: [SIMD4<Float>]?

    @usableFromInline let preTable: UnsafeMutablePointer<Float>?
    @usableFromInline let postTable: UnsafeMutablePointer<Float>?
    @usableFromInline let latticeTable: UnsafeMutablePointer<Float>?

    /// `pre` and `post` hold 256 entries; `lattice` holds ``latticeSize``³ nodes (nil: identity).
    public init(pre: [UInt8]?, lattice: [SIMD4<Float>]?, post: [UInt8]?) {
        precondition(pre.map { $0.count == 256 } ?? true && post.map { $0.count == 256 } ?? true, "curve size")
        precondition(lattice.map { $0.count == Self.latticeSize * Self.latticeSize * Self.latticeSize } ?? true, "lattice size")
        self.pre = pre; self.post = post; self.lattice = lattice
        func floats(_ t: [UInt8]?) -> UnsafeMutablePointer<Float>? {
            guard let t else { return nil }
            let p = UnsafeMutablePointer<Float>.allocate(capacity: 256)
            for i in 0..<256 { p[i] = Float(t[i]) }
            return p
        }
        preTable = floats(pre); postTable = floats(post)
        if let lattice {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: lattice.count * 4)
            for (i, node) in lattice.enumerated() { for c in 0..<4 { p[i * 4 + c] = node[c] } }
            latticeTable = p
        } else { latticeTable = nil }
    }

    deinit { preTable?.deallocate(); postTable?.deallocate(); latticeTable?.deallocate() }

    /// Whether the program changes nothing.
    public var isIdentity: Bool { pre == nil && post == nil && lattice == nil }

    /// The program's exact result for one pixel (the kernels equal it, up to float ties in the lattice).
    public func reference(_ p: SIMD3<UInt8>) -> SIMD3<UInt8> {
        var v = p
        if let pre { v = SIMD3(pre[Int(v.x)], pre[Int(v.y)], pre[Int(v.z)]) }
        if let lattice { v = Self.interpolate(lattice, v) }
        if let post { v = SIMD3(post[Int(v.x)], post[Int(v.y)], post[Int(v.z)]) }
        return v
    }

    static func interpolate(_ lattice: [SIMD4<Float>], _ p: SIMD3<UInt8>) -> SIMD3<UInt8> {
        let n = latticeSize, step = latticeStep
        func axis(_ v: UInt8) -> (Int, Float) {
            let i = min(Int(v) / step, n - 2)
            return (i, Float(Int(v) - i * step) / Float(step))
        }
        let (ri, rf) = axis(p.x), (gi, gf) = axis(p.y), (bi, bf) = axis(p.z)
        func node(_ r: Int, _ g: Int, _ b: Int) -> SIMD4<Float> { lattice[(r * n + g) * n + b] }
        // The same order of operations as the kernel's lanes: blue, then green, then red.
        func lerp(_ a: SIMD4<Float>, _ b: SIMD4<Float>, _ t: Float) -> SIMD4<Float> { a + (b - a) * t }
        let c00 = lerp(node(ri, gi, bi), node(ri, gi, bi + 1), bf), c01 = lerp(node(ri, gi + 1, bi), node(ri, gi + 1, bi + 1), bf)
        let c10 = lerp(node(ri + 1, gi, bi), node(ri + 1, gi, bi + 1), bf)
        let c11 = lerp(node(ri + 1, gi + 1, bi), node(ri + 1, gi + 1, bi + 1), bf)
        let v = lerp(lerp(c00, c01, gf), lerp(c10, c11, gf), rf)
        func byte(_ x: Float) -> UInt8 { UInt8(min(max(x, 0), 255).rounded(.toNearestOrEven)) }
        return SIMD3(byte(v.x), byte(v.y), byte(v.z))
    }

    /// Applies the program to every pixel of three planes (the scalar route for RGB frames).
    public func apply(to planes: RGBPlanes) {
        for y in 0..<planes.r.height {
            let r = planes.r.row(y), g = planes.g.row(y), b = planes.b.row(y)
            for x in 0..<planes.r.width {
                let v = reference(SIMD3(r[x], g[x], b[x]))
                r[x] = v.x; g[x] = v.y; b[x] = v.z
            }
        }
    }
}

/// The SIMD form of a colour transform on whole pixels: eight R, G and B values (integral floats) in, out.
@usableFromInline protocol PixelLanes {
    func callAsFunction<Copy: KernelCopy>(_ r: F8, _ g: F8, _ b: F8, _ copy: Copy.Type) -> (F8, F8, F8)
}

/// A per-channel map applied to each of R, G and B.
@usableFromInline struct EachChannel<L: ChannelLanes>: PixelLanes {
    @usableFromInline let lanes: L
    @inlinable init(_ lanes: L) { self.lanes = lanes }
    @inlinable @inline(__always)
    func callAsFunction<Copy: KernelCopy>(_ r: F8, _ g: F8, _ b: F8, _ copy: Copy.Type) -> (F8, F8, F8) {
        (lanes(r, copy), lanes(g, copy), lanes(b, copy))
    }
}

/// Table lookups of eight integral floats in 0...255.
@inlinable @inline(__always) func gather(_ table: UnsafeMutablePointer<Float>, _ v: F8) -> F8 {
    let index = unsafeBitCast(v + roundingMagic, to: U32x8.self) & 0xFF
    var out = F8()
    for i in 0..<8 { out[i] = table[Int(index[i])] }
    return out
}

/// A ``ColorProgram`` in lanes.
@usableFromInline struct ProgramLanes: PixelLanes {
    @usableFromInline let pre: UnsafeMutablePointer<Float>?
    @usableFromInline let post: UnsafeMutablePointer<Float>?
    @usableFromInline let lattice: UnsafeMutablePointer<Float>?

    @inlinable init(_ program: ColorProgram) {
        pre = program.preTable; post = program.postTable; lattice = program.latticeTable
    }

    @inlinable @inline(__always)
    func callAsFunction<Copy: KernelCopy>(_ r0: F8, _ g0: F8, _ b0: F8, _ copy: Copy.Type) -> (F8, F8, F8) {
        var r = r0, g = g0, b = b0
        if let pre { r = gather(pre, r); g = gather(pre, g); b = gather(pre, b) }
        if let lattice { (r, g, b) = interpolate(lattice, r, g, b, copy) }
        if let post { r = gather(post, r); g = gather(post, g); b = gather(post, b) }
        return (r, g, b)
    }

    @inlinable @inline(__always)
    func interpolate<Copy: KernelCopy>(_ lattice: UnsafeMutablePointer<Float>, _ r: F8, _ g: F8, _ b: F8,
                                       _ copy: Copy.Type) -> (F8, F8, F8) {
        let n = ColorProgram.latticeSize, step = ColorProgram.latticeStep
        let rowG = n * 4 * MemoryLayout<Float>.stride, rowR = n * rowG, nodeB = 4 * MemoryLayout<Float>.stride
        var outR = F8(), outG = F8(), outB = F8()
        // Index and weight as the reference computes them; the eight corner loads are scalar (no gather in Swift SIMD).
        for lane in 0..<8 {
            let rv = Int(r[lane]), gv = Int(g[lane]), bv = Int(b[lane])
            let ri = min(rv / step, n - 2), gi = min(gv / step, n - 2), bi = min(bv / step, n - 2)
            let tr = Float(rv - ri * step) / Float(step), tg = Float(gv - gi * step) / Float(step)
            let tb = Float(bv - bi * step) / Float(step)
            let p = UnsafeRawPointer(lattice + ((ri * n + gi) * n + bi) * 4)
            func node(_ offset: Int) -> SIMD4<Float> { p.advanced(by: offset).loadUnaligned(as: SIMD4<Float>.self) }
            func lerp(_ a: SIMD4<Float>, _ b: SIMD4<Float>, _ t: Float) -> SIMD4<Float> { a + (b - a) * t }
            let c00 = lerp(node(0), node(nodeB), tb), c01 = lerp(node(rowG), node(rowG + nodeB), tb)
            let c10 = lerp(node(rowR), node(rowR + nodeB), tb), c11 = lerp(node(rowR + rowG), node(rowR + rowG + nodeB), tb)
            let v = lerp(lerp(c00, c01, tg), lerp(c10, c11, tg), tr)
            outR[lane] = v.x; outG[lane] = v.y; outB[lane] = v.z
        }
        return (roundedByte(outR), roundedByte(outG), roundedByte(outB))
    }
}
