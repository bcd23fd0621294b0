import CFFmpeg
import Effects

/// Turns frames into encoder-ready frames with a colour transform applied (a per-channel map or a
/// composed program of colour steps), as if each were converted to 8-bit RGB, mapped and converted back.
///
/// Routes, chosen per frame: a fused Y'CbCr kernel when the output is 8-bit planar YUV and the input
/// is too (4:4:4, 4:2:2 or 4:2:0, in any pairing) with the same matrix and range, with no conversions
/// at all; the same after a depth-only swscale pass for 10-bit, 12-bit and semi-planar inputs; swscale
/// to planar RGB, the effect's SIMD kernel, and swscale back for everything else; and for `none`,
/// a pass-through when formats already match, else one swscale conversion.
public final class VideoEffectStage {
    /// nil: only convert to the output's format and colour.
    public let map: PixelMap?
    public let width: Int
    public let height: Int
    package let format: AVPixelFormat
    /// The output's matrix and range, which the conversions honour.
    public let outputColor: ColorProperties
    private let toRGB = Scaler()
    private let fromRGB = Scaler()
    private let rgb: Frame
    /// 8-bit planar copy of a deeper or semi-planar Y'CbCr frame, for the fused kernel.
    private let toYUV8 = Scaler()
    private let yuv8: Frame
    /// Re-pointed at each decoded frame when it must be cropped to even sizes.
    private let cropView: Frame
    private var pool: [Frame] = []
    private var fused: FusedYUVKernel?
    /// Threads the fused kernel spreads a frame over.
    private let kernelBands: Int

    package init(map: PixelMap?, width: Int, height: Int, format: AVPixelFormat, outputColor: ColorProperties, kernelBands: Int = 1) throws {
        self.map = map
        self.kernelBands = kernelBands
        self.width = width; self.height = height; self.format = format
        self.outputColor = outputColor
        rgb = try Frame()
        yuv8 = try Frame()
        cropView = try Frame()
    }

    /// The Y'CbCr matrix for a frame: its own, or BT.709 for HD and BT.601 below (as players guess).
    package static func matrix(for color: AVColorSpace, height: Int) -> AVColorSpace {
        switch color {
        case AVCOL_SPC_UNSPECIFIED, AVCOL_SPC_RESERVED, AVCOL_SPC_RGB:
            return height >= 720 ? AVCOL_SPC_BT709 : AVCOL_SPC_SMPTE170M
        default: return color
        }
    }

    package static func isFullRange(_ frame: Frame) -> Bool {
        if frame.pointer.pointee.color_range == AVCOL_RANGE_JPEG { return true }
        switch frame.pixelFormat {
        case AV_PIX_FMT_YUVJ420P, AV_PIX_FMT_YUVJ422P, AV_PIX_FMT_YUVJ444P, AV_PIX_FMT_YUVJ440P: return true
        default: return false
        }
    }

    /// The 8-bit planar format with the same chroma layout as another Y'CbCr format the fused kernel
    /// cannot read directly (10-bit, 12-bit, semi-planar: yuv420p10le and p010le give yuv420p).
    package static func eightBitPlanarCounterpart(of f: AVPixelFormat) -> AVPixelFormat? {
        guard planarYUV8(f) == nil, let d = av_pix_fmt_desc_get(f)?.pointee, d.nb_components == 3 else { return nil }
        let excluded = AV_PIX_FMT_FLAG_RGB | AV_PIX_FMT_FLAG_PAL | AV_PIX_FMT_FLAG_HWACCEL | AV_PIX_FMT_FLAG_BAYER
            | AV_PIX_FMT_FLAG_FLOAT | AV_PIX_FMT_FLAG_ALPHA
        guard d.flags & UInt64(excluded) == 0 else { return nil }
        switch (d.log2_chroma_w, d.log2_chroma_h) {
        case (1, 1): return AV_PIX_FMT_YUV420P
        case (1, 0): return AV_PIX_FMT_YUV422P
        case (0, 0): return AV_PIX_FMT_YUV444P
        default: return nil
        }
    }

    /// Chroma shifts of the 8-bit planar YUV formats the fused kernel takes.
    package static func planarYUV8(_ f: AVPixelFormat) -> (x: Int, y: Int)? {
        switch f {
        case AV_PIX_FMT_YUV420P, AV_PIX_FMT_YUVJ420P: return (1, 1)
        case AV_PIX_FMT_YUV422P, AV_PIX_FMT_YUVJ422P: return (1, 0)
        case AV_PIX_FMT_YUV444P, AV_PIX_FMT_YUVJ444P: return (0, 0)
        default: return nil
        }
    }

    package static func colorSpace(_ matrix: AVColorSpace, fullRange: Bool) -> YUVColorSpace {
        switch matrix {
        case AVCOL_SPC_BT709: return .bt709(fullRange: fullRange)
        case AVCOL_SPC_BT2020_NCL, AVCOL_SPC_BT2020_CL: return .bt2020(fullRange: fullRange)
        case AVCOL_SPC_FCC: return YUVColorSpace(kr: 0.30, kb: 0.11, fullRange: fullRange)
        case AVCOL_SPC_SMPTE240M: return YUVColorSpace(kr: 0.212, kb: 0.087, fullRange: fullRange)
        default: return .bt601(fullRange: fullRange)
        }
    }

    /// A writable output frame, reusing one the encoder has let go of.
    private func outputFrame() throws -> Frame {
        if let free = pool.first(where: { av_frame_is_writable($0.pointer) != 0 }) { return free }
        let f = try Frame()
        try f.allocateVideo(width: width, height: height, format: format)
        if pool.count < 8 { pool.append(f) }
        return f
    }

    private var outputMatrix: AVColorSpace { Self.matrix(for: outputColor.matrix, height: height) }
    private var outputFullRange: Bool {
        outputColor.range == AVCOL_RANGE_JPEG || format == AV_PIX_FMT_YUVJ420P || format == AV_PIX_FMT_YUVJ444P
    }

    /// Processes `input` (left untouched) and returns the frame to encode, carrying its timing.
    public func process(_ decoded: Frame) throws -> Frame {
        // Subsampled outputs need even sizes; the plan rounds odd ones down and we drop the last row/column.
        let input = decoded.width > width || decoded.height > height
            ? try decoded.cropped(width: width, height: height, into: cropView) : decoded
        let inputMatrix = Self.matrix(for: input.pointer.pointee.colorspace, height: input.height)
        let inputFull = Self.isFullRange(input)
        let sameGeometry = input.width == width && input.height == height
        let sameColor = inputMatrix == outputMatrix && inputFull == outputFullRange

        // No transform, and already in shape: hand the decoded frame straight on.
        if map == nil, sameGeometry, input.pixelFormat == format, sameColor {
            return input
        }
        let out = try outputFrame()
        try out.copyProperties(from: input)
        out.pointer.pointee.colorspace = outputColor.matrix
        out.pointer.pointee.color_range = outputColor.range
        out.pointer.pointee.color_primaries = outputColor.primaries
        out.pointer.pointee.color_trc = outputColor.transfer

        // Any 8-bit planar 4:4:4/4:2:2/4:2:0 pair (4:2:2 in, 4:2:0 out is common): the fused kernel
        // resamples chroma itself, far cheaper than two trips through swscale.
        // Only with a transform: a plain conversion goes Y'CbCr to Y'CbCr directly below (no trip through RGB).
        let fusedCandidate = sameGeometry && sameColor && Self.planarYUV8(format) != nil && map != nil
        // 10-bit and semi-planar sources: a depth/layout-only swscale pass (no RGB, no chroma filtering)
        // to 8-bit planar, then the fused kernel; far cheaper than swscale to RGB and back.
        var kernelInput = input
        if fusedCandidate, let eightBit = Self.eightBitPlanarCounterpart(of: input.pixelFormat) {
            if yuv8.width != input.width || yuv8.height != input.height || yuv8.pixelFormat != eightBit {
                try yuv8.allocateVideo(width: input.width, height: input.height, format: eightBit)
            }
            try toYUV8.scale(input, into: yuv8, sourceMatrix: inputMatrix, sourceFullRange: inputFull,
                             destinationMatrix: inputMatrix, destinationFullRange: inputFull)
            kernelInput = yuv8
        }
        // Frames with bottom-up (negative) strides have no plane views and take the swscale path.
        if fusedCandidate, let inShifts = Self.planarYUV8(kernelInput.pixelFormat), let outShifts = Self.planarYUV8(format),
           let source = yuvImage(kernelInput, inShifts), let destination = yuvImage(out, outShifts) {
            let colorSpace = Self.colorSpace(inputMatrix, fullRange: inputFull)
            let kernel: FusedYUVKernel
            if let fused, fused.colorSpace == colorSpace { kernel = fused } else {
                kernel = FusedYUVKernel(map: map, colorSpace: colorSpace, bands: kernelBands)
                fused = kernel
            }
            withExtendedLifetime((kernelInput, out)) { kernel.process(source, into: destination) }
            return out
        }

        if map == nil, sameGeometry, sameColor, input.pixelFormat == AV_PIX_FMT_GRAY8, let shifts = Self.planarYUV8(format),
           let luma = input.plane(0, width: width, height: height), let destination = yuvImage(out, shifts) {
            Self.copyGray(luma, into: destination)
            return out
        }
        if map == nil {
            try fromRGB.scale(input, into: out, sourceMatrix: inputMatrix, sourceFullRange: inputFull,
                              destinationMatrix: outputMatrix, destinationFullRange: outputFullRange)
        } else {
            if rgb.width != input.width || rgb.height != input.height || av_frame_is_writable(rgb.pointer) == 0 {
                try rgb.allocateVideo(width: input.width, height: input.height, format: AV_PIX_FMT_GBRP)
            }
            try toRGB.scale(input, into: rgb, sourceMatrix: inputMatrix, sourceFullRange: inputFull,
                            destinationMatrix: inputMatrix, destinationFullRange: true)
            withExtendedLifetime(rgb) {
                let w = rgb.width, h = rgb.height
                // GBRP stores G, B, R in planes 0, 1, 2.
                if let g = rgb.plane(0, width: w, height: h), let b = rgb.plane(1, width: w, height: h),
                   let r = rgb.plane(2, width: w, height: h) {
                    let planes = RGBPlanes(r: r, g: g, b: b)
                    switch map {
                    case .channel(let m)?: for p in planes.all { m.apply(to: p) }
                    case .program(let program)?: program.apply(to: planes)
                    case nil: break
                    }
                }
            }
            rgb.pointer.pointee.color_range = AVCOL_RANGE_JPEG
            rgb.pointer.pointee.colorspace = AVCOL_SPC_RGB
            try fromRGB.scale(rgb, into: out, sourceMatrix: outputMatrix, sourceFullRange: true,
                              destinationMatrix: outputMatrix, destinationFullRange: outputFullRange)
        }
        return out
    }

    /// A grey picture (edge detection's) as Y'CbCr in the same range: its luma as it is, neutral chroma;
    /// what swscale computes, without its passes over the frame.
    private static func copyGray(_ gray: Plane, into image: YUVImage) {
        for y in 0..<gray.height { image.y.row(y).update(from: gray.row(y), count: gray.width) }
        for plane in [image.u, image.v] {
            for y in 0..<plane.height { plane.row(y).update(repeating: 128, count: plane.width) }
        }
    }

    /// Views of a planar Y'CbCr frame's planes; nil where a plane has no top-down layout.
    private func yuvImage(_ f: Frame, _ shifts: (x: Int, y: Int)) -> YUVImage? {
        let cw = (f.width + (1 << shifts.x) - 1) >> shifts.x, ch = (f.height + (1 << shifts.y) - 1) >> shifts.y
        guard let y = f.plane(0, width: f.width, height: f.height), let u = f.plane(1, width: cw, height: ch),
              let v = f.plane(2, width: cw, height: ch) else { return nil }
        return YUVImage(y: y, u: u, v: v, chromaShiftX: shifts.x, chromaShiftY: shifts.y)
    }
}
