/// One colour step on 8-bit RGB, as the effect catalogue describes it.
public enum ColorOp: Sendable {
    /// The same 8-bit mapping on each of R, G and B; `channelMap` names it when the kernels have
    /// arithmetic lanes for it (posterize, threshold).
    case curve([UInt8], channelMap: ChannelMap? = nil)
    /// A mapping of the whole pixel (values on the 0...255 scale in and out; the result is clamped
    /// and rounded to 8 bits).
    case mix(@Sendable (SIMD3<Double>) -> SIMD3<Double>)

    /// A curve from a function on 0...255 (clamped and rounded).
    public static func curve(_ f: (Double) -> Double) -> ColorOp {
        .curve((0...255).map { UInt8(min(max(f(Double($0)), 0), 255).rounded()) })
    }

    /// A 3x3 matrix on RGB (rows give R', G', B').
    public static func matrix(_ m: [[Double]]) -> ColorOp {
        precondition(m.count == 3 && m.allSatisfy { $0.count == 3 })
        let r = SIMD3(m[0][0], m[0][1], m[0][2]), g = SIMD3(m[1][0], m[1][1], m[1][2]), b = SIMD3(m[2][0], m[2][1], m[2][2])
        return .mix { p in SIMD3((r * p).sum(), (g * p).sum(), (b * p).sum()) }
    }

    /// The step on one pixel, exactly as the catalogue defines it.
    public func apply(_ p: SIMD3<UInt8>) -> SIMD3<UInt8> {
        switch self {
        case .curve(let t, _): return SIMD3(t[Int(p.x)], t[Int(p.y)], t[Int(p.z)])
        case .mix(let f):
            let v = f(SIMD3(Double(p.x), Double(p.y), Double(p.z)))
            func byte(_ x: Double) -> UInt8 { x.isNaN ? 0 : UInt8(min(max(x, 0), 255).rounded()) }
            return SIMD3(byte(v.x), byte(v.y), byte(v.z))
        }
    }

    var isCurve: Bool { if case .curve = self { return true } else { return false } }
}

/// Composes consecutive colour steps into one transform the fused kernel applies in one pass.
///
/// Per-channel curves compose exactly into one table. From the first whole-pixel step to the last,
/// the steps (curves between them included) are sampled on a lattice every 5 code values and
/// interpolated trilinearly; curves before and after stay exact tables. Where that middle part is
/// affine between nodes (matrices: grayscale, sepia, saturation, hue) interpolation is exact up to
/// the 8-bit rounding between steps and clamping; the stated bound is checked by the tests.
public enum ColorComposer {
    /// The largest difference, in 8-bit code values, between a composed chain and its steps run one
    /// after another, for chains whose whole-pixel part is affine; curves alone are exact (0).
    public static let affineTolerance = 3

    /// The steps one after another, rounding to 8 bits between them (the definition the fused pass approximates).
    public static func sequential(_ ops: [ColorOp], _ p: SIMD3<UInt8>) -> SIMD3<UInt8> {
        ops.reduce(p) { $1.apply($0) }
    }

    /// One pixel map for the steps; nil when they change nothing.
    public static func compose(_ ops: [ColorOp]) -> PixelMap? {
        if ops.isEmpty { return nil }
        if ops.count == 1, case .curve(_, let map?) = ops[0] { return .channel(map) }
        guard let first = ops.firstIndex(where: { !$0.isCurve }), let last = ops.lastIndex(where: { !$0.isCurve }) else {
            return .program(ColorProgram(pre: table(ops), lattice: nil, post: nil))
        }
        let pre = first > 0 ? table(Array(ops[..<first])) : nil
        let post = last < ops.count - 1 ? table(Array(ops[(last + 1)...])) : nil
        let middle = Array(ops[first...last])
        let n = ColorProgram.latticeSize, step = ColorProgram.latticeStep
        var lattice = [SIMD4<Float>](repeating: .zero, count: n * n * n)
        for r in 0..<n {
            for g in 0..<n {
                for b in 0..<n {
                    let v = sequential(middle, SIMD3(UInt8(r * step), UInt8(g * step), UInt8(b * step)))
                    lattice[(r * n + g) * n + b] = SIMD4(Float(v.x), Float(v.y), Float(v.z), 0)
                }
            }
        }
        return .program(ColorProgram(pre: pre, lattice: lattice, post: post))
    }

    /// Curves composed into one table.
    private static func table(_ curves: [ColorOp]) -> [UInt8] {
        (0...255).map { v in sequential(curves, SIMD3(repeating: UInt8(v))).x }
    }
}
