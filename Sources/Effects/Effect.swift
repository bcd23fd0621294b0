/// A per-frame video effect on 8-bit RGB pixels.
///
/// Every effect has a scalar reference implementation and a fast one; both must give identical
/// results. Effects that map each channel value independently also describe themselves as a
/// ``ChannelMap`` so the pipeline can fuse them into colour conversion.
public protocol Effect: Sendable {
    /// The name used on the command line and in the API.
    var name: String { get }
    /// Applies the effect in place with the straightforward scalar implementation.
    func applyReference(to planes: RGBPlanes)
    /// Applies the effect in place with the fast implementation.
    func apply(to planes: RGBPlanes)
    /// The per-channel mapping this effect is, when it is one (`nil` for spatial effects).
    var channelMap: ChannelMap? { get }
}

extension Effect {
    public func applyReference(to planes: RGBPlanes) {
        guard let map = channelMap else { return }
        for plane in planes.all { map.applyReference(to: plane) }
    }
    public func apply(to planes: RGBPlanes) {
        guard let map = channelMap else { return }
        for plane in planes.all { map.apply(to: plane) }
    }
}

/// Leaves frames unchanged.
public struct NoEffect: Effect {
    public init() {}
    public var name: String { "none" }
    public var channelMap: ChannelMap? { nil }
    public func applyReference(to planes: RGBPlanes) {}
    public func apply(to planes: RGBPlanes) {}
}

/// Reduces each RGB channel to `levels` evenly spaced values (the "banding" look).
public struct Posterize: Effect {
    /// The numbers of levels the kernels take (the catalogue's bounds for `posterize:levels`).
    public static let levelRange: ClosedRange<Int> = 2...256

    public let levels: Int

    /// Fails when `levels` is outside ``levelRange``.
    public init(levels: Int) throws {
        guard Self.levelRange.contains(levels) else {
            throw EffectError.outOfRange(parameter: "levels", value: "\(levels)",
                                         allowed: "\(Self.levelRange.lowerBound)...\(Self.levelRange.upperBound)")
        }
        self.levels = levels
    }

    public var name: String { "posterize" }
    public var channelMap: ChannelMap? { .posterize(levels: levels) }

    /// The exact scalar rule: k = round(v / s), v' = floor(k * s + 0.5), s = 255 / (levels - 1).
    public static func reference(_ v: UInt8, levels: Int) -> UInt8 {
        ChannelMap.posterize(levels: levels).reference(v)
    }
}

/// Sends each RGB channel to 0 or 255 around a cut-off in 0...1.
public struct Threshold: Effect {
    public let threshold: Double

    /// Fails when `threshold` is outside 0...1 or not a number.
    public init(threshold: Double) throws {
        guard threshold.isFinite, (0...1).contains(threshold) else {
            throw EffectError.outOfRange(parameter: "threshold", value: "\(threshold)", allowed: "0...1")
        }
        self.threshold = threshold
    }

    public var name: String { "threshold" }
    public var channelMap: ChannelMap? { .threshold(cut: threshold * 255) }

    /// The exact scalar rule: 255 when v > t * 255, else 0.
    public static func reference(_ v: UInt8, threshold: Double) -> UInt8 {
        Double(v) > threshold * 255 ? 255 : 0
    }
}

/// Problems with effect parameters.
public enum EffectError: Error, CustomStringConvertible, Equatable {
    case outOfRange(parameter: String, value: String, allowed: String)

    public var description: String {
        switch self {
        case let .outOfRange(parameter, value, allowed):
            return "\(parameter) \(value) is out of range (allowed: \(allowed))"
        }
    }
}
