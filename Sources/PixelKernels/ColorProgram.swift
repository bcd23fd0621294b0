/// A 3x3 matrix with an offset on RGB values in 0...255 (grayscale, saturation, sepia, hue).
public struct ColorMatrix: Sendable, Equatable {
    /// Rows give R', G' and B'.
    public var rows: [SIMD3<Double>]
    public var offset: SIMD3<Double>

    public init(rows: [SIMD3<Double>], offset: SIMD3<Double> = .zero) {
        precondition(rows.count == 3)
        self.rows = rows; self.offset = offset
    }

    /// The exact result for one pixel: clamped to 0...255 and rounded half away from zero.
    public func apply(_ p: SIMD3<UInt8>) -> SIMD3<UInt8> {
        let v = SIMD3(Double(p.x), Double(p.y), Double(p.z))
        func byte(_ x: Double) -> UInt8 { UInt8(min(max(x, 0), 255).rounded()) }
        return SIMD3(byte((rows[0] * v).sum() + offset.x), byte((rows[1] * v).sum() + offset.y), byte((rows[2] * v).sum() + offset.z))
    }
}

/// A colour transform on 8-bit RGB compiled for the kernels: stages run one after another on each
/// pixel, rounding to 8 bits between them, all inside one pass of the fused kernel.
///
/// Stages: a per-channel curve (an exact 8-bit table), a ``ColorMatrix``, or a 3D LUT
/// (``CubeGrid``, interpolated in its own lattice). Immutable after `init`.
public final class ColorProgram: @unchecked Sendable {
    // Sendable: every buffer is written only in `init` and read-only afterwards.

    public enum Stage: Sendable {
        case curve([UInt8])
        case matrix(ColorMatrix)
        case cube(CubeGrid)
    }

    public let stages: [Stage]
    @usableFromInline let compiled: UnsafeMutablePointer<CompiledStage>
    @usableFromInline let count: Int
    private var buffers: [UnsafeMutableRawPointer] = []

    public init(stages: [Stage]) {
        self.stages = stages
        count = stages.count
        compiled = .allocate(capacity: max(1, stages.count))
        for (i, stage) in stages.enumerated() {
            switch stage {
            case .curve(let t):
                precondition(t.count == 256, "curve size")
                let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 256)
                p.initialize(from: t, count: 256)
                buffers.append(UnsafeMutableRawPointer(p))
                compiled[i] = CompiledStage(kind: 0, table: p, coefficients: .zero, cube: nil)
            case .matrix(let m):
                var c = SIMD16<Float>()
                for r in 0..<3 {
                    c[r * 4] = Float(m.rows[r].x); c[r * 4 + 1] = Float(m.rows[r].y); c[r * 4 + 2] = Float(m.rows[r].z)
                    c[r * 4 + 3] = Float(m.offset[r])
                }
                compiled[i] = CompiledStage(kind: 1, table: nil, coefficients: c, cube: nil)
            case .cube(let grid):
                let p = UnsafeMutablePointer<SIMD4<Float>>.allocate(capacity: grid.nodes.count)
                p.initialize(from: grid.nodes, count: grid.nodes.count)
                let cells = UnsafeMutablePointer<Int32>.allocate(capacity: 768), fractions = UnsafeMutablePointer<Float>.allocate(capacity: 768)
                CubeLanes.fill(grid, cells: cells, fractions: fractions)
                buffers += [UnsafeMutableRawPointer(p), UnsafeMutableRawPointer(cells), UnsafeMutableRawPointer(fractions)]
                let lanes = CubeLanes(nodes: UnsafeRawPointer(p).assumingMemoryBound(to: Float.self), cells: cells, fractions: fractions,
                                      size: grid.size, tetrahedral: grid.interpolation == .tetrahedral)
                compiled[i] = CompiledStage(kind: 2, table: nil, coefficients: .zero, cube: lanes)
            }
        }
    }

    deinit {
        for b in buffers { b.deallocate() }
        compiled.deallocate()
    }

    /// The program's result for one pixel, stage by stage (the kernels equal it up to float ties).
    public func reference(_ p: SIMD3<UInt8>) -> SIMD3<UInt8> {
        stages.reduce(p) { v, stage in
            switch stage {
            case .curve(let t): return SIMD3(t[Int(v.x)], t[Int(v.y)], t[Int(v.z)])
            case .matrix(let m): return m.apply(v)
            case .cube(let grid): return grid.reference(v)
            }
        }
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

/// One stage as the lanes read it (kind 0: curve, 1: matrix, 2: 3D LUT).
@usableFromInline struct CompiledStage {
    @usableFromInline var kind: Int
    @usableFromInline var table: UnsafeMutablePointer<UInt8>?
    /// Matrix rows (R', G', B'), each as four floats: three weights and the offset.
    @usableFromInline var coefficients: SIMD16<Float>
    @usableFromInline var cube: CubeLanes?
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

/// Table lookups of eight integral floats in 0...255, done on the bytes in a general register
/// (cheaper than moving each lane out of and back into a vector register).
@inlinable @inline(__always) func lookup(_ table: UnsafeMutablePointer<UInt8>, _ v: F8) -> F8 {
    let packed = unsafeBitCast(bytes(v), to: UInt64.self)
    var out: UInt64 = 0
    out |= UInt64(table[Int(truncatingIfNeeded: packed & 0xFF)])
    out |= UInt64(table[Int(truncatingIfNeeded: (packed >> 8) & 0xFF)]) << 8
    out |= UInt64(table[Int(truncatingIfNeeded: (packed >> 16) & 0xFF)]) << 16
    out |= UInt64(table[Int(truncatingIfNeeded: (packed >> 24) & 0xFF)]) << 24
    out |= UInt64(table[Int(truncatingIfNeeded: (packed >> 32) & 0xFF)]) << 32
    out |= UInt64(table[Int(truncatingIfNeeded: (packed >> 40) & 0xFF)]) << 40
    out |= UInt64(table[Int(truncatingIfNeeded: (packed >> 48) & 0xFF)]) << 48
    out |= UInt64(table[Int(truncatingIfNeeded: packed >> 56)]) << 56
    return floats(unsafeBitCast(out, to: Bytes8.self))
}

/// A ``ColorProgram`` in lanes.
@usableFromInline struct ProgramLanes: PixelLanes {
    @usableFromInline let stages: UnsafeMutablePointer<CompiledStage>
    @usableFromInline let count: Int

    @inlinable init(_ program: ColorProgram) { stages = program.compiled; count = program.count }

    @inlinable @inline(__always)
    func callAsFunction<Copy: KernelCopy>(_ r0: F8, _ g0: F8, _ b0: F8, _ copy: Copy.Type) -> (F8, F8, F8) {
        var r = r0, g = g0, b = b0
        for i in 0..<count {
            let stage = stages[i]
            switch stage.kind {
            case 0:
                let t = stage.table.unsafelyUnwrapped
                r = lookup(t, r); g = lookup(t, g); b = lookup(t, b)
            case 1:
                let c = stage.coefficients
                let nr = mulAdd(F8(repeating: c[2]), b, mulAdd(F8(repeating: c[1]), g, mulAdd(F8(repeating: c[0]), r, F8(repeating: c[3]), copy), copy), copy)
                let ng = mulAdd(F8(repeating: c[6]), b, mulAdd(F8(repeating: c[5]), g, mulAdd(F8(repeating: c[4]), r, F8(repeating: c[7]), copy), copy), copy)
                let nb = mulAdd(F8(repeating: c[10]), b, mulAdd(F8(repeating: c[9]), g, mulAdd(F8(repeating: c[8]), r, F8(repeating: c[11]), copy), copy), copy)
                r = roundedByte(nr); g = roundedByte(ng); b = roundedByte(nb)
            default:
                (r, g, b) = stage.cube.unsafelyUnwrapped(r, g, b, copy)
            }
        }
        return (r, g, b)
    }
}
