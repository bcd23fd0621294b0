/// A mapping applied to each 8-bit RGB channel value independently.
public enum ChannelMap: Sendable, Equatable {
    /// Posterize with this many levels (2...256).
    case posterize(levels: Int)
    /// Values strictly above `cut` (in 0...255) become 255, the rest 0.
    case threshold(cut: Double)
    /// `v * scale + offset`, clamped to 0...255 and rounded (brightness, contrast, invert). Make it
    /// with ``affine(scale:offset:)``, which checks that float lanes round every value as the reference does.
    case linear(scale: Double, offset: Double)

    /// The affine map, or nil when some 8-bit value lands so near a rounding tie that float lanes
    /// might round it the other way (then the map stays an exact table).
    public static func affine(scale: Double, offset: Double) -> ChannelMap? {
        for v in 0...255 {
            let y = Double(v) * scale + offset
            if y >= 0 && y <= 255 && abs(y - y.rounded(.down) - 0.5) < 1e-3 { return nil }
        }
        return .linear(scale: scale, offset: offset)
    }

    /// The scalar reference mapping of one value.
    public func reference(_ v: UInt8) -> UInt8 {
        switch self {
        case let .posterize(levels):
            // k = floor(v*n1/255 + 1/2), v' = floor(k*255/n1 + 1/2): integers only, so no rounding question.
            let n1 = levels - 1
            let k = (2 * Int(v) * n1 + 255) / 510
            return UInt8((2 * k * 255 + n1) / (2 * n1))
        case let .threshold(cut): return Double(v) > cut ? 255 : 0
        case let .linear(scale, offset): return UInt8(min(max(Double(v) * scale + offset, 0), 255).rounded())
        }
    }

    /// The reference mapping of every value, indexed by value.
    public var table: [UInt8] { (0...255).map { reference(UInt8($0)) } }

    /// Applies the reference mapping to every pixel of `plane`.
    public func applyReference(to plane: Plane) {
        let lut = table
        for y in 0..<plane.height {
            let row = plane.row(y)
            for x in 0..<plane.width { row[x] = lut[Int(row[x])] }
        }
    }
}

/// The colour transform the fused kernel applies to each pixel's RGB.
public enum PixelMap: Sendable {
    /// A per-channel map with its own arithmetic lanes (posterize, threshold).
    case channel(ChannelMap)
    /// Any composed colour transform (curves and a lattice).
    case program(ColorProgram)

    /// The exact result for one pixel.
    public func reference(_ p: SIMD3<UInt8>) -> SIMD3<UInt8> {
        switch self {
        case .channel(let map): return SIMD3(map.reference(p.x), map.reference(p.y), map.reference(p.z))
        case .program(let program): return program.reference(p)
        }
    }
}

/// Names one compiled copy of the SIMD kernels.
///
/// Every generic function of the kernels takes the copy as a type parameter, so each copy's
/// specialisations get their own symbol names: without that the linker would keep one module's
/// copy of an identically named specialisation and drop the others.
public protocol KernelCopy {
    /// Whether the copy's target CPU has fused multiply-add (the kernels then use it).
    static var hasFusedMultiplyAdd: Bool { get }
}

/// The copy compiled for the build's default target.
public enum PortableCopy: KernelCopy {
    // arm64 always has FMA; the x86-64 baseline does not.
    #if arch(arm64)
    public static var hasFusedMultiplyAdd: Bool { true }
    #else
    public static var hasFusedMultiplyAdd: Bool { false }
    #endif
}

/// The SIMD kernels, written once. Each instruction-set module instantiates them with its own
/// ``KernelCopy`` so that its compiler settings produce its own code; call them through `Effects`,
/// which picks the copy for this CPU.
public enum SIMDKernels<Copy: KernelCopy> {
    /// Applies `map` to every pixel of `plane`.
    @inlinable @inline(__always)
    public static func apply(_ map: ChannelMap, to plane: Plane) {
        switch map {
        case let .posterize(levels): PosterizeLanes(levels: levels).apply(to: plane, Copy.self)
        case let .threshold(cut): ThresholdLanes(cut: cut).apply(to: plane, Copy.self)
        case let .linear(scale, offset): LinearLanes(scale: scale, offset: offset).apply(to: plane, Copy.self)
        }
    }

    /// Maps 8-bit planar Y'CbCr `source` into `destination` as if through 8-bit RGB: chroma shared
    /// across its block on the way in, the mapped block averaged on the way out. Same size; each
    /// side has its own subsampling (4:4:4, 4:2:2 or 4:2:0); the two may not overlap.
    @inlinable @inline(__always)
    public static func fusedYUV(_ map: PixelMap?, _ colorSpace: YUVColorSpace,
                                _ source: YUVImage, into destination: YUVImage, scratch: FusedYUVScratch) {
        precondition(source.y.width == destination.y.width && source.y.height == destination.y.height)
        scratch.reserve(width: source.y.width)
        switch map {
        case let .channel(.posterize(levels))?:
            fusedYUVLoop(source, destination, colorSpace, scratch, EachChannel(PosterizeLanes(levels: levels)), Copy.self)
        case let .channel(.threshold(cut))?:
            fusedYUVLoop(source, destination, colorSpace, scratch, EachChannel(ThresholdLanes(cut: cut)), Copy.self)
        case let .channel(.linear(scale, offset))?:
            fusedYUVLoop(source, destination, colorSpace, scratch, EachChannel(LinearLanes(scale: scale, offset: offset)), Copy.self)
        case let .program(program)?:
            withExtendedLifetime(program) {
                fusedYUVLoop(source, destination, colorSpace, scratch, ProgramLanes(program), Copy.self)
            }
        case nil: fusedYUVLoop(source, destination, colorSpace, scratch, EachChannel(IdentityLanes()), Copy.self)
        }
    }
}

/// One compiled copy of the kernels, as plain entry points.
public protocol KernelSet {
    /// Applies `map` to every pixel of `plane`.
    static func apply(_ map: ChannelMap, to plane: Plane)
    /// Maps `source` into `destination` through RGB (see ``SIMDKernels/fusedYUV(_:_:_:into:scratch:)``).
    static func fusedYUV(_ map: PixelMap?, _ colorSpace: YUVColorSpace,
                         _ source: YUVImage, into destination: YUVImage, scratch: FusedYUVScratch)
    /// Adds `grain` for `frame` to plane number `planeIndex` (see ``GrainNoise``).
    static func grain(_ grain: GrainNoise, frame: Int64, planeIndex: Int, to plane: Plane)
}

/// The kernels compiled for the build's default target; every CPU the build runs on can run them.
public enum PortableKernels: KernelSet {
    public static func apply(_ map: ChannelMap, to plane: Plane) {
        SIMDKernels<PortableCopy>.apply(map, to: plane)
    }

    public static func fusedYUV(_ map: PixelMap?, _ colorSpace: YUVColorSpace,
                                _ source: YUVImage, into destination: YUVImage, scratch: FusedYUVScratch) {
        SIMDKernels<PortableCopy>.fusedYUV(map, colorSpace, source, into: destination, scratch: scratch)
    }

    public static func grain(_ grain: GrainNoise, frame: Int64, planeIndex: Int, to plane: Plane) {
        SIMDKernels<PortableCopy>.grain(grain, frame: frame, planeIndex: planeIndex, to: plane)
    }
}
