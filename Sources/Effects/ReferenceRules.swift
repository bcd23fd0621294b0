import PixelKernels

/// Posterize's exact scalar rule and its bounds, beside the kernels (``ChannelMap/posterize(levels:)``)
/// and the catalogue entry (`Recipe/Effects/Posterize.swift`), which validates the parameter.
public enum Posterize {
    /// The numbers of levels the kernels take (the catalogue's bounds for `posterize:levels`).
    public static let levelRange: ClosedRange<Int> = 2...256

    /// The exact scalar rule: k = round(v / s), v' = floor(k * s + 0.5), s = 255 / (levels - 1).
    public static func reference(_ v: UInt8, levels: Int) -> UInt8 {
        ChannelMap.posterize(levels: levels).reference(v)
    }
}

/// Threshold's exact scalar rule (the kernels are ``ChannelMap/threshold(cut:)``).
public enum Threshold {
    /// 255 when v > t * 255, else 0, for a cut-off t in 0...1.
    public static func reference(_ v: UInt8, threshold: Double) -> UInt8 {
        Double(v) > threshold * 255 ? 255 : 0
    }
}
