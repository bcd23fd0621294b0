/// How a 3D LUT is read between its entries.
public enum CubeInterpolation: String, Sendable, CaseIterable {
    /// Four entries, from the tetrahedron of the cell that holds the colour (most grading tools' choice:
    /// keeps the grey axis on the grey axis).
    case tetrahedral
    /// All eight entries of the cell.
    case trilinear
}

/// A 3D LUT as the kernels read it: `size`³ output colours (on the 0...255 scale) at its nodes, red
/// fastest, then green, then blue; an input value `v` (0...255) lies at `v * scale + offset` on each
/// axis, clamped to the lattice. Interpolated in the LUT's own lattice, never resampled.
public struct CubeGrid: Sendable, Equatable {
    public let size: Int
    /// Node values (R, G, B, 0), already times 255.
    public let nodes: [SIMD4<Float>]
    public let scale: SIMD3<Float>
    public let offset: SIMD3<Float>
    public let interpolation: CubeInterpolation

    /// `values` in 0...1 of the output (red fastest); `domain` the input values the first and last
    /// nodes stand for, on the 0...1 scale.
    public init(size: Int, values: [SIMD3<Float>], domainMin: SIMD3<Float> = .zero, domainMax: SIMD3<Float> = .one,
                interpolation: CubeInterpolation) {
        precondition(size >= 2 && values.count == size * size * size, "LUT size")
        precondition(all(domainMax .> domainMin), "LUT domain")
        self.size = size
        nodes = values.map { SIMD4($0 * 255, 0) }
        let cells = Float(size - 1)
        scale = SIMD3(repeating: cells / 255) / (domainMax - domainMin)
        offset = -domainMin * cells / (domainMax - domainMin)
        self.interpolation = interpolation
    }

    /// Where an 8-bit value lies on one axis (0: red): the cell it is in (0...size-2) and the fraction
    /// of the way to the cell's far node.
    public func place(_ v: UInt8, axis: Int) -> (cell: Int, fraction: Double) {
        let x = min(max(Double(v) * Double(scale[axis]) + Double(offset[axis]), 0), Double(size - 1))
        let cell = min(Int(x), size - 2)
        return (cell, x - Double(cell))
    }

    /// The LUT's colour for one pixel, interpolated in double precision and unrounded.
    public func exact(_ p: SIMD3<UInt8>) -> SIMD3<Double> {
        var cell = SIMD3<Int>(), f = SIMD3<Double>()
        for axis in 0..<3 { (cell[axis], f[axis]) = place(p[axis], axis: axis) }
        func node(_ dr: Int, _ dg: Int, _ db: Int) -> SIMD3<Double> {
            let v = nodes[((cell.z + db) * size + cell.y + dg) * size + cell.x + dr]
            return SIMD3(Double(v.x), Double(v.y), Double(v.z))
        }
        switch interpolation {
        case .trilinear:
            func lerp(_ a: SIMD3<Double>, _ b: SIMD3<Double>, _ t: Double) -> SIMD3<Double> { a + (b - a) * t }
            let c00 = lerp(node(0, 0, 0), node(1, 0, 0), f.x), c10 = lerp(node(0, 1, 0), node(1, 1, 0), f.x)
            let c01 = lerp(node(0, 0, 1), node(1, 0, 1), f.x), c11 = lerp(node(0, 1, 1), node(1, 1, 1), f.x)
            return lerp(lerp(c00, c10, f.y), lerp(c01, c11, f.y), f.z)
        case .tetrahedral:
            // Axes from the largest fraction to the smallest: walk from the cell's origin along them.
            let order = [0, 1, 2].sorted { f[$0] > f[$1] || (f[$0] == f[$1] && $0 < $1) }
            var step = SIMD3<Int>(), sum = node(0, 0, 0) * (1 - f[order[0]])
            for (k, axis) in order.enumerated() {
                step[axis] = 1
                let weight = f[axis] - (k < 2 ? f[order[k + 1]] : 0)
                sum += node(step.x, step.y, step.z) * weight
            }
            return sum
        }
    }

    /// ``exact(_:)`` clamped to 0...255 and rounded: what the kernels compute, up to float ties.
    public func reference(_ p: SIMD3<UInt8>) -> SIMD3<UInt8> {
        let v = exact(p)
        func byte(_ x: Double) -> UInt8 { UInt8(min(max(x, 0), 255).rounded()) }
        return SIMD3(byte(v.x), byte(v.y), byte(v.z))
    }
}

/// A ``CubeGrid`` in lanes: each pixel's cell and weights from per-channel tables (an 8-bit value's
/// cell offset and fraction on its axis), then its four (tetrahedral) or eight (trilinear) nodes
/// read as one vector each. Pixels go through general registers, not vector lanes: extracting lanes
/// one by one costs more than the arithmetic.
@usableFromInline struct CubeLanes {
    @usableFromInline let nodes: UnsafePointer<Float>
    /// Per channel (R, G, B), 256 entries each: the offset of the value's cell along its axis, in floats.
    @usableFromInline let cells: UnsafePointer<Int32>
    /// Per channel, 256 entries each: the fraction of the way from that cell to the next node.
    @usableFromInline let fractions: UnsafePointer<Float>
    @usableFromInline let size: Int
    @usableFromInline let tetrahedral: Bool

    @inlinable init(nodes: UnsafePointer<Float>, cells: UnsafePointer<Int32>, fractions: UnsafePointer<Float>,
                    size: Int, tetrahedral: Bool) {
        self.nodes = nodes; self.cells = cells; self.fractions = fractions; self.size = size; self.tetrahedral = tetrahedral
    }

    /// The tables for `grid`, as ``CubeGrid/place(_:axis:)`` places a value: `cells` and `fractions` must hold 768 each.
    static func fill(_ grid: CubeGrid, cells: UnsafeMutablePointer<Int32>, fractions: UnsafeMutablePointer<Float>) {
        let stride = [4, 4 * grid.size, 4 * grid.size * grid.size]
        for axis in 0..<3 {
            for v in 0..<256 {
                let (cell, fraction) = grid.place(UInt8(v), axis: axis)
                cells[axis * 256 + v] = Int32(cell * stride[axis])
                fractions[axis * 256 + v] = Float(fraction)
            }
        }
    }

    @inlinable @inline(__always)
    func callAsFunction<Copy: KernelCopy>(_ r: F8, _ g: F8, _ b: F8, _ copy: Copy.Type) -> (F8, F8, F8) {
        let rs = unsafeBitCast(bytes(r), to: UInt64.self), gs = unsafeBitCast(bytes(g), to: UInt64.self)
        let bs = unsafeBitCast(bytes(b), to: UInt64.self)
        // Each pixel's colour stays in a register of its own; shuffles then give the R, G and B vectors
        // (through memory, the wide loads would wait on the narrow stores; lane by lane, a blend each).
        let p0 = pixel(rs, gs, bs, 0, copy), p1 = pixel(rs, gs, bs, 8, copy), p2 = pixel(rs, gs, bs, 16, copy)
        let p3 = pixel(rs, gs, bs, 24, copy), p4 = pixel(rs, gs, bs, 32, copy), p5 = pixel(rs, gs, bs, 40, copy)
        let p6 = pixel(rs, gs, bs, 48, copy), p7 = pixel(rs, gs, bs, 56, copy)
        let low = SIMD16(lowHalf: SIMD8(lowHalf: p0, highHalf: p1), highHalf: SIMD8(lowHalf: p2, highHalf: p3))
        let high = SIMD16(lowHalf: SIMD8(lowHalf: p4, highHalf: p5), highHalf: SIMD8(lowHalf: p6, highHalf: p7))
        let out = SIMD32(lowHalf: low, highHalf: high)
        let rb = out.evenHalf, gx = out.oddHalf
        return (roundedByte(rb.evenHalf), roundedByte(gx.evenHalf), roundedByte(rb.oddHalf))
    }

    /// The colour (R, G, B, 0) of the pixel whose 8-bit values sit at bit `shift` of the packed channels.
    @inlinable @inline(__always)
    func pixel<Copy: KernelCopy>(_ rs: UInt64, _ gs: UInt64, _ bs: UInt64, _ shift: UInt64, _ copy: Copy.Type) -> SIMD4<Float> {
        let r = Int(truncatingIfNeeded: (rs &>> shift) & 0xFF), g = Int(truncatingIfNeeded: (gs &>> shift) & 0xFF)
        let b = Int(truncatingIfNeeded: (bs &>> shift) & 0xFF)
        let sr = 4, sg = 4 &* size, sb = 4 &* size &* size, far = sr &+ sg &+ sb
        let p = nodes + Int(cells[r] &+ cells[g &+ 256] &+ cells[b &+ 512])
        let fr = fractions[r], fg = fractions[g &+ 256], fb = fractions[b &+ 512]
        if tetrahedral {
            // Walk from the cell's origin along the axes from the largest fraction to the smallest.
            // Branch-free (a branch per pixel mispredicts on noisy pictures): all ones where a
            // difference of fractions is negative.
            let rg = sign(fg - fr), gb = sign(fb - fg), rb = sign(fb - fr)  // fr > fg, fg > fb, fr > fb
            let first = sb &+ (rg & rb & (sr &- sb)) &+ (~rg & gb & (sg &- sb))
            let middle = far &- sb &- (~rg & ~rb & (sr &- sb)) &- (rg & ~gb & (sg &- sb))
            let hi = fr > fg ? fr : fg, lo = fr > fg ? fg : fr
            let fMax = hi > fb ? hi : fb, fMin = lo < fb ? lo : fb
            let capped = hi < fb ? hi : fb, fMid = capped > lo ? capped : lo
            var acc = node(p) * (1 - fMax)
            acc = mulAdd4(node(p + first), fMax - fMid, acc, copy)
            acc = mulAdd4(node(p + middle), fMid - fMin, acc, copy)
            return mulAdd4(node(p + far), fMin, acc, copy)
        }
        func lerp(_ a: SIMD4<Float>, _ b: SIMD4<Float>, _ t: Float) -> SIMD4<Float> { mulAdd4(b - a, t, a, copy) }
        let c00 = lerp(node(p), node(p + sr), fr), c10 = lerp(node(p + sg), node(p + sg + sr), fr)
        let c01 = lerp(node(p + sb), node(p + sb + sr), fr), c11 = lerp(node(p + sb + sg), node(p + sb + sg + sr), fr)
        return lerp(lerp(c00, c10, fg), lerp(c01, c11, fg), fb)
    }

    /// All ones where `x` is negative, else zero.
    @inlinable @inline(__always) func sign(_ x: Float) -> Int {
        Int(truncatingIfNeeded: Int32(bitPattern: x.bitPattern) >> 31)
    }

    @inlinable @inline(__always) func node(_ p: UnsafePointer<Float>) -> SIMD4<Float> {
        UnsafeRawPointer(p).load(as: SIMD4<Float>.self)
    }
}

/// `a * b + c` on four lanes, fused where the copy's CPU has FMA.
@inlinable @inline(__always)
func mulAdd4<Copy: KernelCopy>(_ a: SIMD4<Float>, _ b: Float, _ c: SIMD4<Float>, _: Copy.Type) -> SIMD4<Float> {
    Copy.hasFusedMultiplyAdd ? c.addingProduct(a, b) : a * b + c
}
