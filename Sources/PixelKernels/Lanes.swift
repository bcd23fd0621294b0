// Small float-lane helpers shared by the fast kernels. Values stay in 0...2^23, where adding and
// subtracting 2^23 rounds to the nearest integer and the low mantissa bits hold the integer; that
// keeps every conversion a plain vector instruction (the generic SIMD rounding initialisers call
// libm once per lane).
//
// Everything here is `@inlinable` so that each instruction-set module compiles its own copy.

@usableFromInline typealias F8 = SIMD8<Float>
@usableFromInline typealias U32x8 = SIMD8<UInt32>
@usableFromInline typealias Bytes8 = SIMD8<UInt8>

@inlinable @inline(__always) var roundingMagic: F8 { F8(repeating: 8_388_608) }

/// Eight bytes widened to floats.
@inlinable @inline(__always) func floats(_ b: Bytes8) -> F8 {
    unsafeBitCast(U32x8(truncatingIfNeeded: b) | 0x4B00_0000, to: F8.self) - roundingMagic
}

/// Rounds to the nearest integer (ties to even) for values in 0..<2^23.
@inlinable @inline(__always) func roundedNearest(_ x: F8) -> F8 { (x + roundingMagic) - roundingMagic }

/// Clamps to 0...255 and rounds to the nearest integer.
// Comparisons and selects: `clamped` goes through generic pointwise min/max calls.
@inlinable @inline(__always) func roundedByte(_ x: F8) -> F8 {
    var y = x
    y.replace(with: 0, where: x .< 0)
    y.replace(with: 255, where: x .> 255)
    return roundedNearest(y)
}

/// Eight integral floats in 0...255 narrowed to bytes.
@inlinable @inline(__always) func bytes(_ x: F8) -> Bytes8 {
    Bytes8(truncatingIfNeeded: unsafeBitCast(x + roundingMagic, to: U32x8.self))
}

@inlinable @inline(__always) func load8(_ p: UnsafePointer<UInt8>) -> Bytes8 {
    UnsafeRawPointer(p).loadUnaligned(as: Bytes8.self)
}

@inlinable @inline(__always) func store8(_ v: Bytes8, _ p: UnsafeMutablePointer<UInt8>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Bytes8.self)
}

/// `a * b + c`, fused into one rounding where the copy's CPU has FMA (a libm call per lane otherwise).
@inlinable @inline(__always) func mulAdd<Copy: KernelCopy>(_ a: F8, _ b: F8, _ c: F8, _: Copy.Type) -> F8 {
    Copy.hasFusedMultiplyAdd ? c.addingProduct(a, b) : a * b + c
}

/// The SIMD form of a channel map: eight integral channel values (as floats) in, eight out.
@usableFromInline protocol ChannelLanes {
    func callAsFunction<Copy: KernelCopy>(_ v: F8, _ copy: Copy.Type) -> F8
}

extension ChannelLanes {
    /// Runs the lanes over a plane, eight bytes at a time, with a padded copy for each row's tail.
    @inlinable @inline(__always)
    func apply<Copy: KernelCopy>(to plane: Plane, _: Copy.Type) {
        let w = plane.width
        let body = w & ~7
        for y in 0..<plane.height {
            let row = plane.row(y)
            var x = 0
            while x < body {
                store8(bytes(self(floats(load8(row + x)), Copy.self)), row + x)
                x += 8
            }
            if body < w {
                var tail = Bytes8()
                for i in 0..<(w - body) { tail[i] = row[body + i] }
                let out = bytes(self(floats(tail), Copy.self))
                for i in 0..<(w - body) { row[body + i] = out[i] }
            }
        }
    }
}

@usableFromInline struct PosterizeLanes: ChannelLanes {
    @usableFromInline let toLevel: F8
    @usableFromInline let toValue: F8
    @usableFromInline let toValueNudged: F8
    @inlinable init(levels: Int) {
        toLevel = F8(repeating: Float(levels - 1) / 255)
        toValue = F8(repeating: 255 / Float(levels - 1))
        toValueNudged = F8(repeating: Float(255 / Double(levels - 1) * (1 + 0x1p-20)))
    }
    // k = round(v*(n-1)/255) is never a tie for integer v: it is at least 1/510 from one, far
    // beyond float error. k*255/(n-1) is either exactly a half (the reference rounds it up) or at
    // least 1/510 from one. Without FMA a 1/1024 nudge after the product does it; with FMA
    // (one rounding) a 2^-20 relative nudge in the factor does: it outweighs the factor's own
    // 2^-24 error and moves no product by more than 2.5e-4.
    @inlinable @inline(__always)
    func callAsFunction<Copy: KernelCopy>(_ v: F8, _: Copy.Type) -> F8 {
        if Copy.hasFusedMultiplyAdd {
            let k = roundingMagic.addingProduct(v, toLevel) - roundingMagic
            return roundingMagic.addingProduct(k, toValueNudged) - roundingMagic
        }
        return roundedNearest(roundedNearest(v * toLevel) * toValue + (1.0 / 1024))
    }
}

@usableFromInline struct ThresholdLanes: ChannelLanes {
    @usableFromInline let cut: F8
    @inlinable init(cut: Double) { self.cut = F8(repeating: Float(cut.rounded(.down))) }
    // For integer v, v > c holds exactly when v > floor(c).
    @inlinable @inline(__always)
    func callAsFunction<Copy: KernelCopy>(_ v: F8, _: Copy.Type) -> F8 {
        F8(repeating: 0).replacing(with: 255, where: v .> cut)
    }
}

@usableFromInline struct LinearLanes: ChannelLanes {
    @usableFromInline let scale: F8
    @usableFromInline let offset: F8
    @inlinable init(scale: Double, offset: Double) {
        self.scale = F8(repeating: Float(scale)); self.offset = F8(repeating: Float(offset))
    }
    // ChannelMap.affine keeps every value at least 1e-3 from a rounding tie; float error here is below 1e-4.
    @inlinable @inline(__always)
    func callAsFunction<Copy: KernelCopy>(_ v: F8, _ copy: Copy.Type) -> F8 {
        roundedByte(mulAdd(v, scale, offset, copy))
    }
}

/// Used when the effect is a plain conversion (none): values pass unchanged.
@usableFromInline struct IdentityLanes: ChannelLanes {
    @inlinable init() {}
    @inlinable @inline(__always) func callAsFunction<Copy: KernelCopy>(_ v: F8, _: Copy.Type) -> F8 { v }
}
