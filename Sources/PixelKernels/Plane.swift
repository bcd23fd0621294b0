/// A borrowed view of one 8-bit image plane: `height` rows of `width` bytes, `stride` bytes apart.
///
/// A plane never owns its memory; it is only valid inside the closure or call that produced it.
public struct Plane {
    public let base: UnsafeMutablePointer<UInt8>
    public let width: Int
    public let height: Int
    public let stride: Int

    public init(base: UnsafeMutablePointer<UInt8>, width: Int, height: Int, stride: Int) {
        precondition(width >= 0 && height >= 0 && stride >= width, "plane geometry")
        self.base = base
        self.width = width
        self.height = height
        self.stride = stride
    }

    /// The first byte of row `y`.
    @inlinable @inline(__always)
    public func row(_ y: Int) -> UnsafeMutablePointer<UInt8> { base + y * stride }
}

/// Three 8-bit planes of the same size holding R, G and B.
public struct RGBPlanes {
    public var r: Plane
    public var g: Plane
    public var b: Plane
    public init(r: Plane, g: Plane, b: Plane) {
        precondition(r.width == g.width && g.width == b.width && r.height == g.height && g.height == b.height)
        self.r = r; self.g = g; self.b = b
    }
    public var all: [Plane] { [r, g, b] }
}
