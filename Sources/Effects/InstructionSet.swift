@_exported import PixelKernels
import CPUFeatures
#if canImport(PixelKernelsAVX2)
import PixelKernelsAVX2
#endif
#if canImport(PixelKernelsAVX512)
import PixelKernelsAVX512
#endif
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Which compiled copy of the SIMD kernels runs: the portable one, or one built for a newer x86-64 level.
public enum InstructionSet: String, Sendable, CaseIterable, CustomStringConvertible {
    /// The build's default target (SSE2 on x86-64, NEON on arm64).
    case baseline
    /// x86-64-v3: AVX2 and FMA.
    case avx2
    /// x86-64-v4: AVX-512.
    case avx512

    public var description: String { rawValue }

    /// Whether this build has the copy and this CPU can run it.
    public var isAvailable: Bool { compiled != nil && Self.cpuLevel >= requiredLevel }

    /// The x86-64 micro-architecture level the copy was compiled for (0: none needed).
    private var requiredLevel: Int {
        switch self {
        case .baseline: return 0
        case .avx2: return 3
        case .avx512: return 4
        }
    }

    /// The copy's entry points, when this build has it.
    private var compiled: (any KernelSet.Type)? {
        switch self {
        case .baseline: return PortableKernels.self
        case .avx2:
            #if canImport(PixelKernelsAVX2)
            return AVX2Kernels.self
            #else
            return nil
            #endif
        case .avx512:
            #if canImport(PixelKernelsAVX512)
            return AVX512Kernels.self
            #else
            return nil
            #endif
        }
    }

    /// The copy's entry points; the portable ones for a copy that is not available, so a caller
    /// that skipped ``isAvailable`` still runs correct code.
    var kernels: any KernelSet.Type { (isAvailable ? compiled : nil) ?? PortableKernels.self }

    /// Every copy this machine can run, slowest first.
    public static var available: [InstructionSet] { allCases.filter(\.isAvailable) }

    /// The copy the kernels use: the newest available, or `VFX_ISA` (baseline, avx2, avx512) when
    /// that names an available one, which benchmarks and tests use to compare copies.
    public static let preferred: InstructionSet = {
        if let name = getenv("VFX_ISA").map({ String(cString: $0) }),
           let choice = InstructionSet(rawValue: name.lowercased()), choice.isAvailable {
            return choice
        }
        return available.last ?? .baseline
    }()

    private static let cpuLevel = Int(vfx_x86_64_level())
}

extension ChannelMap {
    /// Applies the mapping to every pixel of `plane` with the SIMD kernel.
    public func apply(to plane: Plane, using isa: InstructionSet = .preferred) {
        isa.kernels.apply(self, to: plane)
    }
}

extension GrainNoise {
    /// Adds the grain of `frame` to plane number `planeIndex` with the SIMD kernel.
    public func apply(to plane: Plane, frame: Int64, planeIndex: Int, using isa: InstructionSet = .preferred) {
        isa.kernels.grain(self, frame: frame, planeIndex: planeIndex, to: plane)
    }
}
