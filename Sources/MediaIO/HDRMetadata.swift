import CFFmpeg

/// HDR10 static metadata: the mastering display's colour volume and the content light levels.
public struct HDRMetadata: Sendable {
    var raw: vfx_hdr_metadata

    /// What a stream's container says (MP4 `mdcv`/`clli`, Matroska colour elements), if anything.
    package init?(stream: UnsafeMutablePointer<AVStream>) {
        var m = vfx_hdr_metadata()
        guard vfx_hdr_from_stream(stream, &m) != 0 else { return nil }
        raw = m
    }

    /// What a decoded frame carries (HEVC SEI, AV1 metadata OBUs), if anything.
    package init?(frame: Frame) {
        var m = vfx_hdr_metadata()
        guard vfx_hdr_from_frame(frame.pointer, &m) != 0 else { return nil }
        raw = m
    }

    public var maxContentLight: Int? { raw.has_light != 0 ? Int(raw.max_cll) : nil }
    public var maxFrameAverageLight: Int? { raw.has_light != 0 ? Int(raw.max_fall) : nil }
    /// Peak luminance of the mastering display in cd/m².
    public var maxLuminance: Double? { raw.has_luminance != 0 ? raw.max_luminance : nil }

    /// The same metadata as x265 options (`master-display`, `max-cll`), in x265's units:
    /// chromaticity in 0.00002 steps, luminance in 0.0001 cd/m².
    var x265Parameters: [String] {
        var out: [String] = []
        if raw.has_primaries != 0 && raw.has_luminance != 0 {
            let p = raw.primaries
            func c(_ v: Double) -> Int { Int((v * 50000).rounded()) }
            out.append("master-display=G(\(c(p.1.0)),\(c(p.1.1)))B(\(c(p.2.0)),\(c(p.2.1)))R(\(c(p.0.0)),\(c(p.0.1)))"
                       + "WP(\(c(raw.white_point.0)),\(c(raw.white_point.1)))"
                       + "L(\(Int((raw.max_luminance * 10000).rounded())),\(Int((raw.min_luminance * 10000).rounded())))")
        }
        if raw.has_light != 0 { out.append("max-cll=\(raw.max_cll),\(raw.max_fall)") }
        return out
    }

    /// Attaches the metadata to an output stream, for muxers that write it into the container.
    package func attach(to stream: UnsafeMutablePointer<AVStream>, path: String) throws {
        var m = raw
        try check(vfx_hdr_to_stream(stream, &m), "adding HDR metadata", path: path)
    }
}

/// Transfer functions of high-dynamic-range video.
public enum HDRTransfer {
    /// "PQ" or "HLG" for an HDR transfer function, nil for SDR.
    package static func name(_ trc: AVColorTransferCharacteristic) -> String? {
        switch trc {
        case AVCOL_TRC_SMPTE2084: return "PQ"
        case AVCOL_TRC_ARIB_STD_B67: return "HLG"
        default: return nil
        }
    }
}
