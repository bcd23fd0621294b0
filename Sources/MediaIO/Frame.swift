import CFFmpeg
import Effects

/// An owned `AVFrame` (video or audio).
public final class Frame {
    package let pointer: UnsafeMutablePointer<AVFrame>

    public init() throws {
        guard let p = av_frame_alloc() else { throw FFmpegError(call: "av_frame_alloc", path: nil, code: vfx_averror_enomem()) }
        pointer = p
    }

    deinit {
        var p: UnsafeMutablePointer<AVFrame>? = pointer
        av_frame_free(&p)
    }

    public func unref() { av_frame_unref(pointer) }

    public var width: Int { Int(pointer.pointee.width) }
    public var height: Int { Int(pointer.pointee.height) }
    package var pixelFormat: AVPixelFormat { AVPixelFormat(rawValue: pointer.pointee.format) }

    /// The decoder's best guess at the presentation time (nil when it has none).
    public var bestEffortTimestamp: Int64? {
        let t = pointer.pointee.best_effort_timestamp
        return t == Timestamp.none ? nil : t
    }

    /// Makes this frame a new reference to `other`'s buffers and properties (dropping what it held).
    public func reference(_ other: Frame) throws {
        av_frame_unref(pointer)
        try check(av_frame_ref(pointer, other.pointer), "av_frame_ref")
    }

    /// Moves `other`'s buffers and properties here, leaving it empty.
    public func take(_ other: Frame) {
        av_frame_unref(pointer)
        av_frame_move_ref(pointer, other.pointer)
    }

    /// Audio: samples per channel in this frame, and their rate.
    public var sampleCount: Int { Int(pointer.pointee.nb_samples) }
    public var sampleRate: Int { Int(pointer.pointee.sample_rate) }

    /// Presentation time in the owning stage's time base.
    public var pts: Int64 {
        get { pointer.pointee.pts }
        set { pointer.pointee.pts = newValue }
    }

    public var duration: Int64 {
        get { vfx_frame_duration(pointer) }
        set { vfx_set_frame_duration(pointer, newValue) }
    }

    /// A value the filters attached to this frame (`lavfi.psnr.mse.y`...), if any.
    public func metadata(_ key: String) -> String? {
        av_dict_get(pointer.pointee.metadata, key, nil, 0).map { String(cString: $0.pointee.value) }
    }

    /// Gives this frame buffers for `width`x`height` in `format` (replacing what it held).
    package func allocateVideo(width: Int, height: Int, format: AVPixelFormat) throws {
        av_frame_unref(pointer)
        pointer.pointee.width = Int32(width)
        pointer.pointee.height = Int32(height)
        pointer.pointee.format = format.rawValue
        try check(av_frame_get_buffer(pointer, 0), "av_frame_get_buffer")
    }

    /// Copies timing and colour properties (not pixels) from another frame.
    package func copyProperties(from other: Frame) throws {
        try check(av_frame_copy_props(pointer, other.pointer), "av_frame_copy_props")
    }

    /// Points `f` at this frame's pixels, showing only the top-left `width`x`height`; returns `f`.
    package func cropped(width: Int, height: Int, into f: Frame) throws -> Frame {
        f.unref()
        try check(av_frame_ref(f.pointer, pointer), "av_frame_ref")
        f.pointer.pointee.width = Int32(min(width, self.width))
        f.pointer.pointee.height = Int32(min(height, self.height))
        return f
    }

    /// Borrowed view of plane `index` of an 8-bit format, valid while this frame holds its buffers.
    package func plane(_ index: Int, width: Int, height: Int) -> Plane? {
        let data: UnsafeMutablePointer<UInt8>?
        let stride: Int32
        switch index {
        case 0: data = pointer.pointee.data.0; stride = pointer.pointee.linesize.0
        case 1: data = pointer.pointee.data.1; stride = pointer.pointee.linesize.1
        case 2: data = pointer.pointee.data.2; stride = pointer.pointee.linesize.2
        case 3: data = pointer.pointee.data.3; stride = pointer.pointee.linesize.3
        default: return nil
        }
        guard let data, stride >= width else { return nil }
        return Plane(base: data, width: width, height: height, stride: Int(stride))
    }
}
