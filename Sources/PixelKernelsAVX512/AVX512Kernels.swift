import PixelKernels

/// The SIMD kernels compiled for x86-64-v4 (AVX-512 F/BW/DQ/VL); Package.swift sets the target CPU for this module.
/// Call only on a CPU that has it (`Effects.InstructionSet` checks).
public enum AVX512Kernels: KernelSet {
    @inline(never) // stays in this module, compiled for this CPU level, never inlined into a caller
    public static func apply(_ map: ChannelMap, to plane: Plane) {
        SIMDKernels<AVX512Copy>.apply(map, to: plane)
    }

    @inline(never) // stays in this module, compiled for this CPU level, never inlined into a caller
    public static func fusedYUV(_ map: PixelMap?, _ colorSpace: YUVColorSpace,
                                _ source: YUVImage, into destination: YUVImage, scratch: FusedYUVScratch) {
        SIMDKernels<AVX512Copy>.fusedYUV(map, colorSpace, source, into: destination, scratch: scratch)
    }

    @inline(never) // stays in this module, compiled for this CPU level, never inlined into a caller
    public static func grain(_ grain: GrainNoise, frame: Int64, planeIndex: Int, to plane: Plane) {
        SIMDKernels<AVX512Copy>.grain(grain, frame: frame, planeIndex: planeIndex, to: plane)
    }
}

/// This module's copy of the kernels.
public enum AVX512Copy: KernelCopy {
    public static var hasFusedMultiplyAdd: Bool { true }
}
