/// One colour step on 8-bit RGB, as the effect catalogue describes it.
public enum ColorOp: Sendable {
    /// The same 8-bit mapping on each of R, G and B; `channelMap` names it when the kernels have
    /// arithmetic lanes for it (posterize, threshold).
    case curve([UInt8], channelMap: ChannelMap? = nil)
    /// A 3x3 matrix with an offset (grayscale, saturation, sepia, hue): exact in the fused pass.
    case matrix(ColorMatrix)
    /// A 3D LUT (a .cube file), interpolated in its own lattice.
    case lut(CubeGrid)

    /// A line (brightness and contrast, invert) as a curve whose table comes from the map itself.
    public static func curve(line map: ChannelMap) -> ColorOp { .curve(map.table, channelMap: map) }

    /// A curve from a function on 0...255 (clamped and rounded).
    public static func curve(_ f: (Double) -> Double) -> ColorOp {
        .curve((0...255).map { UInt8(min(max(f(Double($0)), 0), 255).rounded()) })
    }

    /// A 3x3 matrix on RGB (rows give R', G', B').
    public static func matrix(_ m: [[Double]]) -> ColorOp {
        precondition(m.count == 3 && m.allSatisfy { $0.count == 3 })
        return .matrix(ColorMatrix(rows: m.map { SIMD3($0[0], $0[1], $0[2]) }))
    }

    /// The step on one pixel, exactly as the catalogue defines it.
    public func apply(_ p: SIMD3<UInt8>) -> SIMD3<UInt8> {
        switch self {
        case .curve(let t, _): return SIMD3(t[Int(p.x)], t[Int(p.y)], t[Int(p.z)])
        case .matrix(let m): return m.apply(p)
        case .lut(let grid): return grid.reference(p)
        }
    }

    var isCurve: Bool { if case .curve = self { return true } else { return false } }

    /// A curve's map with lanes of its own, where they give its table exactly.
    var computedMap: ChannelMap? {
        guard case .curve(let table, let map?) = self, map.table == table else { return nil }
        return map
    }
}

/// Composes consecutive colour steps into one transform the fused kernel applies in one pass.
///
/// Consecutive curves compose exactly into one table; matrices and LUTs run as stages between them
/// (a matrix in lanes costs about what a table does, and keeps the 8-bit rounding between steps that
/// a composed 3D LUT would blur). Every stage is exact: the program equals the steps one after another.
public enum ColorComposer {
    /// The steps one after another, rounding to 8 bits between them (the definition the fused pass implements).
    public static func sequential(_ ops: [ColorOp], _ p: SIMD3<UInt8>) -> SIMD3<UInt8> {
        ops.reduce(p) { $1.apply($0) }
    }

    /// One pixel map for the steps; nil when they change nothing.
    public static func compose(_ ops: [ColorOp]) -> PixelMap? {
        if ops.isEmpty { return nil }
        if ops.count == 1, let map = ops[0].computedMap { return .channel(map) }
        var stages: [ColorProgram.Stage] = []
        var i = 0
        while i < ops.count {
            switch ops[i] {
            case .curve:
                var j = i
                while j < ops.count, ops[j].isCurve { j += 1 }
                if j == i + 1, case .linear(let scale, let offset)? = ops[i].computedMap {
                    // A line alone (brightness and contrast, invert) is a diagonal matrix: arithmetic, no lookups.
                    stages.append(.matrix(ColorMatrix(rows: [SIMD3(scale, 0, 0), SIMD3(0, scale, 0), SIMD3(0, 0, scale)],
                                                      offset: SIMD3(repeating: offset))))
                } else {
                    stages.append(.curve(table(Array(ops[i..<j]))))
                }
                i = j
            case .matrix(let m):
                stages.append(.matrix(m))
                i += 1
            case .lut(let grid):
                stages.append(.cube(grid))
                i += 1
            }
        }
        return .program(ColorProgram(stages: stages))
    }

    /// Curves composed into one table.
    private static func table(_ curves: [ColorOp]) -> [UInt8] {
        (0...255).map { v in sequential(curves, SIMD3(repeating: UInt8(v))).x }
    }
}
