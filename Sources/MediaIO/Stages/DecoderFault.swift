import CFFmpeg
#if canImport(Glibc)
import Glibc
#endif

/// A decoding device's failure made to happen on purpose, so that the fallback to the CPU decoder can
/// be tested on machines without a device. `VFX_TEST_DECODER_FAULT` asks for one: `frame:N` (the device
/// fails instead of giving frame N+1) or `packet:N` (it refuses the N-th packet), optionally followed by
/// `,replay-bytes:B` (the budget of packets kept for the fallback).
package enum DecoderFault: Equatable, Sendable {
    case afterFrames(Int)
    case atPacket(Int)

    package static let variable = "VFX_TEST_DECODER_FAULT"

    /// The fault and replay budget the environment asks for, if any.
    package static func fromEnvironment() -> (fault: DecoderFault, replayBytes: Int?)? {
        guard let raw = getenv(variable) else { return nil }
        var fault: DecoderFault?, bytes: Int?
        for part in String(cString: raw).split(separator: ",") {
            let kv = part.split(separator: ":", maxSplits: 1)
            guard kv.count == 2, let n = Int(kv[1]), n >= 0 else { continue }
            switch kv[0] {
            case "frame": fault = .afterFrames(n)
            case "packet": fault = .atPacket(max(1, n))
            case "replay-bytes": bytes = n
            default: continue
            }
        }
        return fault.map { ($0, bytes) }
    }

    /// Gives a 4:2:0 frame the layout NVDEC's frames come back in (NV12), so that what follows a
    /// takeover (the CPU decoder's planar frames) is tested as it would be after a device.
    func deviceLayout(_ frame: Frame, with reshaper: FrameReshaper) throws {
        guard frame.pixelFormat == AV_PIX_FMT_YUV420P else { return }
        try reshaper.reshape(frame, width: frame.width, height: frame.height, format: AV_PIX_FMT_NV12)
    }

    /// What the device's failure looks like: a failed call, as NVDEC's errors reach us (AVERROR_EXTERNAL).
    static func failure(call: String, path: String?) -> FFmpegError {
        FFmpegError(call: call + " [test fault]", path: path, code: vfx_averror_external())
    }
}
