/// Film grain: uniform noise in `-amplitude...amplitude` added to every sample of a plane, drawn from a
/// hash of the seed, the frame's key (its time on the whole timeline), the plane and the position. The
/// same frame gets the same grain however the video is cut into chunks, and each frame differs.
public struct GrainNoise: Sendable, Hashable {
    /// Largest change to a sample, 0...127.
    public var amplitude: Int
    public var seed: UInt32

    public init(amplitude: Int, seed: UInt32) {
        precondition((0...127).contains(amplitude), "grain amplitude")
        self.amplitude = amplitude; self.seed = seed
    }

    /// The 32-bit hash (lowbias32) each sample's noise is drawn from.
    @inlinable @inline(__always)
    static func mix(_ v: UInt32) -> UInt32 {
        var x = v
        x ^= x &>> 16; x &*= 0x7FEB_352D
        x ^= x &>> 15; x &*= 0x846C_A68B
        x ^= x &>> 16
        return x
    }

    /// The key of one row: the seed, the frame, the plane and the row, mixed.
    @inlinable @inline(__always)
    func rowKey(frame: Int64, plane: Int, row: Int) -> UInt32 {
        let f = UInt64(bitPattern: frame)
        var k = Self.mix(seed ^ UInt32(truncatingIfNeeded: f) ^ 0x9E37_79B9)
        k = Self.mix(k ^ UInt32(truncatingIfNeeded: f &>> 32) ^ UInt32(truncatingIfNeeded: plane) &* 0x85EB_CA6B)
        return Self.mix(k ^ UInt32(truncatingIfNeeded: row) &* 0xC2B2_AE35)
    }

    /// The noise of the sample at `x` in a row keyed `key`: `-amplitude...amplitude`, uniform.
    @inlinable @inline(__always)
    func noise(key: UInt32, x: Int) -> Int {
        let h = Self.mix(key ^ UInt32(truncatingIfNeeded: x) &* 0x9E37_79B9)
        return Int(((h &>> 16) &* UInt32(2 * amplitude + 1)) &>> 16) - amplitude
    }

    /// The scalar reference: adds the grain of `frame`'s plane number `plane` to `target`, clamped to 0...255.
    public func referenceApply(to target: Plane, frame: Int64, plane: Int) {
        guard amplitude > 0 else { return }
        for y in 0..<target.height {
            let row = target.row(y), key = rowKey(frame: frame, plane: plane, row: y)
            for x in 0..<target.width { row[x] = UInt8(max(0, min(255, Int(row[x]) + noise(key: key, x: x)))) }
        }
    }
}

extension SIMDKernels {
    /// Adds `grain` to `plane` (see ``GrainNoise``), sixteen samples at a time; equal to the reference.
    @inlinable @inline(__always)
    public static func grain(_ grain: GrainNoise, frame: Int64, planeIndex: Int, to plane: Plane) {
        guard grain.amplitude > 0 else { return }
        typealias U = SIMD16<UInt32>
        typealias I = SIMD16<Int32>
        let span = UInt32(2 * grain.amplitude + 1), amp = Int32(grain.amplitude)
        let lanes = U(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        let width = plane.width, whole = width & ~15
        for y in 0..<plane.height {
            let row = plane.row(y), key = grain.rowKey(frame: frame, plane: planeIndex, row: y)
            var x = 0
            while x < whole {
                var h = U(repeating: key) ^ ((lanes &+ U(repeating: UInt32(truncatingIfNeeded: x))) &* 0x9E37_79B9)
                h ^= h &>> 16; h &*= 0x7FEB_352D
                h ^= h &>> 15; h &*= 0x846C_A68B
                h ^= h &>> 16
                let n = I(truncatingIfNeeded: ((h &>> 16) &* span) &>> 16) &- amp
                let p = UnsafeRawPointer(row + x).loadUnaligned(as: SIMD16<UInt8>.self)
                var v = I(truncatingIfNeeded: p) &+ n
                v.replace(with: 0, where: v .< 0)
                v.replace(with: 255, where: v .> 255)
                UnsafeMutableRawPointer(row + x).storeBytes(of: SIMD16<UInt8>(truncatingIfNeeded: v), as: SIMD16<UInt8>.self)
                x += 16
            }
            while x < width {
                row[x] = UInt8(max(0, min(255, Int(row[x]) + grain.noise(key: key, x: x))))
                x += 1
            }
        }
    }
}
