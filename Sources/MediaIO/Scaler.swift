import CFFmpeg

/// Converts frames between sizes, pixel formats and colour ranges (swscale).
package final class Scaler {
    private var context: OpaquePointer?
    /// What the cached context was made for.
    private struct Key: Equatable {
        var source: (Int32, Int32, Int32), destination: (Int32, Int32, Int32)
        var sourceMatrix: AVColorSpace, sourceFull: Bool, destinationMatrix: AVColorSpace, destinationFull: Bool
        static func == (a: Key, b: Key) -> Bool {
            a.source == b.source && a.destination == b.destination && a.sourceMatrix == b.sourceMatrix
                && a.sourceFull == b.sourceFull && a.destinationMatrix == b.destinationMatrix && a.destinationFull == b.destinationFull
        }
    }
    private var key: Key?

    package init() {}

    deinit { sws_freeContext(context) }

    /// Converts `source` into `destination`, whose size and format are already set and allocated.
    /// `sourceMatrix`/`destinationMatrix` pick the Y'CbCr coefficients where either side is YUV.
    package func scale(_ source: Frame, into destination: Frame, sourceMatrix: AVColorSpace, sourceFullRange: Bool,
               destinationMatrix: AVColorSpace, destinationFullRange: Bool) throws {
        let s = source.pointer.pointee, d = destination.pointer.pointee
        let k = Key(source: (s.width, s.height, s.format), destination: (d.width, d.height, d.format),
                    sourceMatrix: sourceMatrix, sourceFull: sourceFullRange,
                    destinationMatrix: destinationMatrix, destinationFull: destinationFullRange)
        if k != key || context == nil {
            sws_freeContext(context)
            context = sws_getContext(s.width, s.height, AVPixelFormat(rawValue: s.format),
                                     d.width, d.height, AVPixelFormat(rawValue: d.format),
                                     SWS_BICUBIC | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, nil, nil, nil)
            guard let context else {
                throw FFmpegError(call: "sws_getContext(\(PixelFormat(AVPixelFormat(rawValue: s.format)).name) -> \(PixelFormat(AVPixelFormat(rawValue: d.format)).name))", path: nil, code: vfx_averror_enomem())
            }
            let srcTable = sws_getCoefficients(Int32(sourceMatrix.rawValue))
            let dstTable = sws_getCoefficients(Int32(destinationMatrix.rawValue))
            _ = sws_setColorspaceDetails(context, srcTable, sourceFullRange ? 1 : 0, dstTable, destinationFullRange ? 1 : 0,
                                         0, 1 << 16, 1 << 16)
            key = k
        }
        let code = sws_scale_frame(context, destination.pointer, source.pointer)
        try check(code, "sws_scale_frame")
    }
}

/// Converts frames in place to a size and pixel format, keeping their colour (matrix and range), with
/// a scaler and a scratch frame reused from one frame to the next.
package final class FrameReshaper {
    private let scaler = Scaler()
    private let scratch: Frame

    package init() throws { scratch = try Frame() }

    package func reshape(_ frame: Frame, width: Int, height: Int, format: AVPixelFormat) throws {
        try scratch.allocateVideo(width: width, height: height, format: format)
        try scratch.copyProperties(from: frame)
        let f = frame.pointer.pointee, full = f.color_range == AVCOL_RANGE_JPEG
        try scaler.scale(frame, into: scratch, sourceMatrix: f.colorspace, sourceFullRange: full, destinationMatrix: f.colorspace,
                         destinationFullRange: full)
        frame.take(scratch)
    }
}
