// Small float-lane helpers shared by the fast kernels. Values stay in 0...2^23, where adding and
// subtracting 2^23 rounds to the nearest integer and the low mantissa bits hold the integer; that
// keeps every conversion a plain vector instruction (the generic SIMD rounding initialisers call
// libm once per lane).

typealias F8 = SIMD8<Float>
typealias U32x8 = SIMD8<UInt32>
typealias Bytes8 = SIMD8<UInt8>

@inline(__always) var roundingMagic: F8 { F8(repeating: 8_388_608) }

/// Eight bytes widened to floats.
@inline(__always) func floats(_ b: Bytes8) -> F8 {
    unsafeBitCast(U32x8(truncatingIfNeeded: b) | 0x4B00_0000, to: F8.self) - roundingMagic
}

/// Rounds to the nearest integer (ties to even) for values in 0..<2^23.
@inline(__always) func roundedNearest(_ x: F8) -> F8 { (x + roundingMagic) - roundingMagic }

/// Clamps to 0...255 and rounds to the nearest integer.
// Comparisons and selects: `clamped` goes through generic pointwise min/max calls.
@inline(__always) func roundedByte(_ x: F8) -> F8 {
    var y = x
    y.replace(with: 0, where: x .< 0)
    y.replace(with: 255, where: x .> 255)
    return roundedNearest(y)
}

/// Eight integral floats in 0...255 narrowed to bytes.
@inline(__always) func bytes(_ x: F8) -> Bytes8 {
    Bytes8(truncatingIfNeeded: unsafeBitCast(x + roundingMagic, to: U32x8.self))
}

@inline(__always) func load8(_ p: UnsafePointer<UInt8>) -> Bytes8 {
    UnsafeRawPointer(p).loadUnaligned(as: Bytes8.self)
}

@inline(__always) func store8(_ v: Bytes8, _ p: UnsafeMutablePointer<UInt8>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: Bytes8.self)
}
