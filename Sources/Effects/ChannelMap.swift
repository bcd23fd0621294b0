/// A mapping applied to each 8-bit RGB channel value independently.
public enum ChannelMap: Sendable, Equatable {
    /// ``Posterize`` with this many levels.
    case posterize(levels: Int)
    /// Values strictly above `cut` (in 0...255) become 255, the rest 0.
    case threshold(cut: Double)

    /// The scalar reference mapping of one value.
    public func reference(_ v: UInt8) -> UInt8 {
        switch self {
        case let .posterize(levels): return Posterize.reference(v, levels: levels)
        case let .threshold(cut): return Double(v) > cut ? 255 : 0
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

    /// Applies the mapping to every pixel of `plane` with the SIMD kernel.
    public func apply(to plane: Plane) {
        switch self {
        case let .posterize(levels): PosterizeLanes(levels: levels).apply(to: plane)
        case let .threshold(cut): ThresholdLanes(cut: cut).apply(to: plane)
        }
    }
}

/// The SIMD form of a channel map: eight integral channel values (as floats) in, eight out.
protocol ChannelLanes {
    func callAsFunction(_ v: F8) -> F8
}

extension ChannelLanes {
    /// Runs the lanes over a plane, eight bytes at a time, with a padded copy for each row's tail.
    @inline(__always)
    func apply(to plane: Plane) {
        let w = plane.width
        let body = w & ~7
        for y in 0..<plane.height {
            let row = plane.row(y)
            var x = 0
            while x < body {
                store8(bytes(self(floats(load8(row + x)))), row + x)
                x += 8
            }
            if body < w {
                var tail = Bytes8()
                for i in 0..<(w - body) { tail[i] = row[body + i] }
                let out = bytes(self(floats(tail)))
                for i in 0..<(w - body) { row[body + i] = out[i] }
            }
        }
    }
}

struct PosterizeLanes: ChannelLanes {
    let toLevel: F8
    let toValue: F8
    init(levels: Int) {
        toLevel = F8(repeating: Float(levels - 1) / 255)
        toValue = F8(repeating: 255 / Float(levels - 1))
    }
    // k = round(v*(n-1)/255) is never a tie for integer v. k*255/(n-1) is either exactly a half
    // (rounds up) or at least 1/510 away from one, so a 1/1024 nudge makes round-to-nearest the
    // reference's floor(x + 1/2) despite float error in the products.
    @inline(__always)
    func callAsFunction(_ v: F8) -> F8 {
        roundedNearest(roundedNearest(v * toLevel) * toValue + (1.0 / 1024))
    }
}

struct ThresholdLanes: ChannelLanes {
    let cut: F8
    init(cut: Double) { self.cut = F8(repeating: Float(cut.rounded(.down))) }
    // For integer v, v > c holds exactly when v > floor(c).
    @inline(__always)
    func callAsFunction(_ v: F8) -> F8 {
        F8(repeating: 0).replacing(with: 255, where: v .> cut)
    }
}

/// Used when the effect is a plain conversion (none): values pass unchanged.
struct IdentityLanes: ChannelLanes {
    @inline(__always) func callAsFunction(_ v: F8) -> F8 { v }
}
