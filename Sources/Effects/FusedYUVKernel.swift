import Dispatch
import PixelKernels

/// Applies a channel map to a Y'CbCr image as if it were converted to 8-bit RGB, mapped, and
/// converted back, in one pass: chroma is shared across its block on the way in and averaged over
/// the mapped block on the way out.
///
/// Holds scratch rows, so one instance serves one thread; it allocates nothing per frame.
public final class FusedYUVKernel {
    public let map: PixelMap?
    public let colorSpace: YUVColorSpace
    public let instructionSet: InstructionSet
    /// Bands of rows a frame is cut into, each mapped on its own thread (1: the caller's thread alone).
    public var bands: Int { scratches.count }
    private let scratches: [FusedYUVScratch]

    /// `instructionSet` must be available (see ``InstructionSet/isAvailable``); by default the preferred one.
    /// `bands` above 1 spreads each frame over that many threads, for cores the encoder leaves idle.
    public init(map: PixelMap?, colorSpace: YUVColorSpace, instructionSet: InstructionSet = .preferred, bands: Int = 1) {
        precondition(instructionSet.isAvailable, "instruction set \(instructionSet) is not available here")
        precondition(bands >= 1, "bands")
        self.map = map
        self.colorSpace = colorSpace
        self.instructionSet = instructionSet
        scratches = (0..<bands).map { _ in FusedYUVScratch() }
    }

    /// A kernel for a per-channel map (nil: a plain conversion).
    public convenience init(map: ChannelMap?, colorSpace: YUVColorSpace, instructionSet: InstructionSet = .preferred) {
        self.init(map: map.map(PixelMap.channel), colorSpace: colorSpace, instructionSet: instructionSet)
    }

    /// Maps `source` into `destination`: same size, any 8-bit chroma subsampling on either side
    /// (4:4:4, 4:2:2, 4:2:0); they may not overlap.
    public func process(_ source: YUVImage, into destination: YUVImage) {
        let kernels = instructionSet.kernels
        // Bands of an even number of rows (whole chroma rows on both sides), at least 16 rows each.
        let height = source.y.height, rowsPerBand = max(16, (height + bands - 1) / bands + 1) & ~1
        let count = min(bands, (height + rowsPerBand - 1) / rowsPerBand)
        guard count > 1 else { return kernels.fusedYUV(map, colorSpace, source, into: destination, scratch: scratches[0]) }
        // Each band writes only its own rows of `destination`, reads only its own rows of `source` and
        // uses its own scratch, so the threads share nothing that is written.
        nonisolated(unsafe) let (src, dst, scratches) = (source, destination, self.scratches)
        let (map, colorSpace) = (self.map, self.colorSpace)
        DispatchQueue.concurrentPerform(iterations: count) { band in
            let rows = band * rowsPerBand..<min(height, (band + 1) * rowsPerBand)
            kernels.fusedYUV(map, colorSpace, src.rows(rows), into: dst.rows(rows), scratch: scratches[band])
        }
    }

    /// The straightforward scalar version of ``process(_:into:)``, in double precision.
    ///
    /// `roundingBias` is added to each RGB value before it is rounded to 8 bits. An RGB value within
    /// float precision of a rounding tie may round either way in the fast kernel, and the map can turn
    /// that one step into a whole level; references with a tiny bias each way tell that from a bug.
    public static func processReference(map: ChannelMap?, colorSpace cs: YUVColorSpace,
                                        _ src: YUVImage, into dst: YUVImage, roundingBias: Double = 0) {
        processReference(map: map.map(PixelMap.channel), colorSpace: cs, src, into: dst, roundingBias: roundingBias)
    }

    /// ``processReference(map:colorSpace:_:into:roundingBias:)`` for any pixel map.
    public static func processReference(map: PixelMap?, colorSpace cs: YUVColorSpace,
                                        _ src: YUVImage, into dst: YUVImage, roundingBias: Double = 0) {
        let width = src.y.width, height = src.y.height
        let sx = src.chromaShiftX, sy = src.chromaShiftY, dsx = dst.chromaShiftX, dsy = dst.chromaShiftY
        func byte(_ x: Double) -> UInt8 { UInt8(min(max(x + roundingBias, 0), 255).rounded()) }
        func mapped(_ c: (r: Double, g: Double, b: Double)) -> (Double, Double, Double) {
            let p = SIMD3(byte(c.r), byte(c.g), byte(c.b))
            let m = map?.reference(p) ?? p
            return (Double(m.x), Double(m.y), Double(m.z))
        }
        for cy in 0..<dst.u.height {
            for cx in 0..<dst.u.width {
                var sum = (r: 0.0, g: 0.0, b: 0.0), count = 0.0
                for y in (cy << dsy)..<min((cy + 1) << dsy, height) {
                    for x in (cx << dsx)..<min((cx + 1) << dsx, width) {
                        let u = Double(src.u.row(y >> sy)[x >> sx]), v = Double(src.v.row(y >> sy)[x >> sx])
                        let c = cs.rgb(y: Double(src.y.row(y)[x]), u: u, v: v)
                        let (r, g, b) = mapped(c)
                        dst.y.row(y)[x] = UInt8(min(max(cs.yuv(r: r, g: g, b: b).y, 0), 255).rounded())
                        sum.r += r; sum.g += g; sum.b += b; count += 1
                    }
                }
                let out = cs.yuv(r: sum.r / count, g: sum.g / count, b: sum.b / count)
                dst.u.row(cy)[cx] = UInt8(min(max(out.u, 0), 255).rounded())
                dst.v.row(cy)[cx] = UInt8(min(max(out.v, 0), 255).rounded())
            }
        }
    }
}
