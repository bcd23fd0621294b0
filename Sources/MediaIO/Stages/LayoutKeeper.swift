import CFFmpeg

/// Keeps a video's frames in the size and pixel format of its first one. Later frames that differ (a
/// stream that changes size mid-way; the CPU decoder's planar frames after a device's NV12 or P010) are
/// converted to it, so the steps and the encoder see one layout throughout, as the ffmpeg CLI's output
/// does (libavfilter's sources are set up from the first frame and cannot take another size).
struct LayoutKeeper {
    private var first: (width: Int32, height: Int32, format: Int32)?
    private var reshaper: FrameReshaper?
    private var saidSizeChange = false

    /// Converts `frame` in place where it differs from the first; returns a warning the first time the size changes.
    mutating func keep(_ frame: Frame, at time: @autoclosure () -> String?) throws -> String? {
        let f = frame.pointer.pointee
        guard let layout = first else {
            first = (f.width, f.height, f.format)
            return nil
        }
        guard (f.width, f.height, f.format) != layout else { return nil }
        var warning: String?
        if (f.width, f.height) != (layout.width, layout.height), !saidSizeChange {
            saidSizeChange = true
            warning = "the video changes from \(layout.width)x\(layout.height) to \(f.width)x\(f.height)"
                + (time().map { " at \($0)" } ?? "") + "; its frames from there on are scaled to \(layout.width)x\(layout.height)"
        }
        let reshaper = try self.reshaper ?? FrameReshaper()
        self.reshaper = reshaper
        try reshaper.reshape(frame, width: Int(layout.width), height: Int(layout.height), format: AVPixelFormat(rawValue: layout.format))
        return warning
    }
}
