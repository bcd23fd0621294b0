import CFFmpeg

/// A fraction such as a time base (1/90000) or a frame rate (30000/1001); FFmpeg's `AVRational` in Swift.
public struct Rational: Sendable, Hashable, Codable, CustomStringConvertible {
    public var num: Int32
    public var den: Int32

    public init(_ num: Int32, _ den: Int32) { self.num = num; self.den = den }
    package init(_ r: AVRational) { num = r.num; den = r.den }
    package var av: AVRational { AVRational(num: num, den: den) }

    /// FFmpeg's internal time base, microseconds.
    public static let microseconds = Rational(1, Int32(AV_TIME_BASE))

    /// Both terms positive (an unknown rate or aspect is 0/1 or 0/0).
    public var isPositive: Bool { num > 0 && den > 0 }
    public var value: Double { av_q2d(av) }
    public var inverse: Rational { Rational(den, num) }
    public var description: String { "\(num)/\(den)" }

    /// The nearest fraction to `value` with terms up to `maximum`.
    public static func approximating(_ value: Double, maximum: Int32 = 100_000) -> Rational { Rational(av_d2q(value, maximum)) }

    /// A timestamp in this time base as seconds.
    public func seconds(_ timestamp: Int64) -> Double { Double(timestamp) * value }

    /// A timestamp in this time base moved to `other`, rounded to the nearest (FFmpeg's `av_rescale_q`).
    public func rescale(_ timestamp: Int64, to other: Rational) -> Int64 { av_rescale_q(timestamp, av, other.av) }
}

/// Timestamps are `Int64` counts of a stream's time base; FFmpeg marks an unknown one with this value.
public enum Timestamp {
    public static let none = Int64.min
}

/// A pixel format by FFmpeg's name for it (`yuv420p`, `yuv420p10le`, ...).
public struct PixelFormat: Sendable, Hashable, CustomStringConvertible {
    package let av: AVPixelFormat
    package init(_ av: AVPixelFormat) { self.av = av }

    public static let yuv420p = PixelFormat(AV_PIX_FMT_YUV420P)
    public static let yuv444p = PixelFormat(AV_PIX_FMT_YUV444P)
    public static let yuv420p10le = PixelFormat(AV_PIX_FMT_YUV420P10LE)
    public static let p010le = PixelFormat(AV_PIX_FMT_P010LE)

    /// The format FFmpeg calls `name`, or nil when it knows none.
    public init?(named name: String) {
        let f = av_get_pix_fmt(name)
        guard f != AV_PIX_FMT_NONE else { return nil }
        av = f
    }

    public var name: String { av_get_pix_fmt_name(av).map { String(cString: $0) } ?? "none" }
    public var description: String { name }

    /// Bits per component (8 for yuv420p, 10 for yuv420p10le and p010le).
    public var bitDepth: Int {
        guard let d = av_pix_fmt_desc_get(av) else { return 8 }
        return Int(d.pointee.comp.0.depth)
    }

    /// Picture sizes this format can hold are multiples of these (2 and 2 for 4:2:0, 1 and 1 for 4:4:4).
    public var sizeMultiples: (width: Int, height: Int) {
        var sx: Int32 = 0, sy: Int32 = 0
        av_pix_fmt_get_chroma_sub_sample(av, &sx, &sy)
        return (1 << Int(sx), 1 << Int(sy))
    }

    /// `width`x`height` rounded down to a size this format can hold.
    public func fitting(width: Int, height: Int) -> (width: Int, height: Int) {
        let (mx, my) = sizeMultiples
        return (width & ~(mx - 1), height & ~(my - 1))
    }

    /// The formats an encoder accepts (empty when it does not say, or there is no such encoder).
    public static func supported(byEncoder name: String) -> [PixelFormat] {
        guard let codec = avcodec_find_encoder_by_name(name), var p = codec.pointee.pix_fmts else { return [] }
        var out: [PixelFormat] = []
        while p.pointee != AV_PIX_FMT_NONE { out.append(PixelFormat(p.pointee)); p += 1 }
        return out
    }
}

/// How the fields of interlaced video are ordered, as the source says (unknown, progressive, tff...).
public struct FieldOrder: Sendable, Equatable {
    package let av: AVFieldOrder
    package init(_ av: AVFieldOrder) { self.av = av }
    public static let unknown = FieldOrder(AV_FIELD_UNKNOWN)
    /// Interlaced, in either field order.
    public var isInterlaced: Bool { av != AV_FIELD_UNKNOWN && av != AV_FIELD_PROGRESSIVE }
}
