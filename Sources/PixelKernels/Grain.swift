/// Film grain: uniform noise in `-amplitude...amplitude` added to every sample of a plane. The noise comes
/// from a table drawn once from the seed (as libavfilter's `noise` does), read from a place in it that a
/// hash of the frame's key (its time on the whole timeline), the plane and the row picks: the same frame
/// gets the same grain however the video is cut into chunks, and each frame differs.
public struct GrainNoise: Sendable, Hashable {
    /// Largest change to a sample, 0...127.
    public let amplitude: Int
    public let seed: UInt32
    /// `span + reach` noise values: a row reads `span` of them from a start below `reach`.
    @usableFromInline let table: [Int8]
    /// Samples a row reads before its next stretch gets a start of its own.
    @usableFromInline static let span = 16_384
    @usableFromInline static let reach = 4_096

    public init(amplitude: Int, seed: UInt32) {
        precondition((0...127).contains(amplitude), "grain amplitude")
        self.amplitude = amplitude; self.seed = seed
        let levels = UInt32(2 * amplitude + 1)
        table = (0..<(Self.span + Self.reach)).map { i in
            let h = Self.mix(seed ^ UInt32(truncatingIfNeeded: i) &* 0x9E37_79B9)
            return Int8(truncatingIfNeeded: Int(((h &>> 16) &* levels) &>> 16) - amplitude)
        }
    }

    public static func == (a: GrainNoise, b: GrainNoise) -> Bool { a.amplitude == b.amplitude && a.seed == b.seed }
    public func hash(into h: inout Hasher) { h.combine(amplitude); h.combine(seed) }

    /// A 32-bit hash (lowbias32).
    @inlinable @inline(__always)
    static func mix(_ v: UInt32) -> UInt32 {
        var x = v
        x ^= x &>> 16; x &*= 0x7FEB_352D
        x ^= x &>> 15; x &*= 0x846C_A68B
        x ^= x &>> 16
        return x
    }

    /// Where stretch `stretch` of row `row` of plane `plane` of frame `frame` starts reading the table.
    @inlinable @inline(__always)
    func start(frame: Int64, plane: Int, row: Int, stretch: Int) -> Int {
        let f = UInt64(bitPattern: frame)
        var k = Self.mix(seed ^ UInt32(truncatingIfNeeded: f) ^ 0x9E37_79B9)
        k = Self.mix(k ^ UInt32(truncatingIfNeeded: f &>> 32) ^ UInt32(truncatingIfNeeded: plane) &* 0x85EB_CA6B)
        k = Self.mix(k ^ UInt32(truncatingIfNeeded: row) &* 0xC2B2_AE35 ^ UInt32(truncatingIfNeeded: stretch) &* 0x27D4_EB2F)
        return Int(k % UInt32(Self.reach))
    }

    /// The scalar reference: adds the grain of `frame`'s plane number `plane` to `target`, clamped to 0...255.
    public func referenceApply(to target: Plane, frame: Int64, plane: Int) {
        guard amplitude > 0 else { return }
        for y in 0..<target.height {
            let row = target.row(y)
            for x in 0..<target.width {
                let from = start(frame: frame, plane: plane, row: y, stretch: x / Self.span)
                row[x] = UInt8(max(0, min(255, Int(row[x]) + Int(table[from + x % Self.span]))))
            }
        }
    }
}

extension SIMDKernels {
    /// Adds `grain` to `plane` (see ``GrainNoise``): per row, a stretch of the table added to the samples
    /// in a plain loop the compiler vectorizes for each copy's instruction set; equal to the reference.
    @inlinable @inline(__always)
    public static func grain(_ grain: GrainNoise, frame: Int64, planeIndex: Int, to plane: Plane) {
        guard grain.amplitude > 0 else { return }
        grain.table.withUnsafeBufferPointer { table in
            let noise = table.baseAddress!
            for y in 0..<plane.height {
                let row = plane.row(y)
                var x = 0
                while x < plane.width {
                    let n = min(GrainNoise.span, plane.width - x)
                    let from = noise + grain.start(frame: frame, plane: planeIndex, row: y, stretch: x / GrainNoise.span)
                    let dst = row + x
                    for i in 0..<n {
                        let v = Int16(dst[i]) &+ Int16(from[i])
                        dst[i] = UInt8(truncatingIfNeeded: max(0, min(255, v)))
                    }
                    x += n
                }
            }
        }
    }
}
