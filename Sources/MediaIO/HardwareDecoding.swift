import CFFmpeg
import Synchronization

/// A device that decodes video: NVIDIA's NVDEC (through CUDA) or VA-API (Intel and AMD).
public enum DecodeDevice: String, Sendable, CaseIterable {
    case cuda, vaapi

    var type: AVHWDeviceType { self == .cuda ? AV_HWDEVICE_TYPE_CUDA : AV_HWDEVICE_TYPE_VAAPI }
    var pixelFormat: AVPixelFormat { self == .cuda ? AV_PIX_FMT_CUDA : AV_PIX_FMT_VAAPI }
    /// How reports and metrics name it (`decoder_device`).
    public var label: String { self == .cuda ? "nvidia" : "vaapi" }
    /// How messages name it.
    public var title: String { self == .cuda ? "NVDEC (CUDA)" : "VA-API" }

    /// Whether this FFmpeg's decoder for `codec` can use the device (a hardware configuration through a device context).
    func decodes(_ codec: UnsafePointer<AVCodec>) -> Bool {
        var i: Int32 = 0
        while let config = avcodec_get_hw_config(codec, i) {
            if config.pointee.device_type == type, config.pointee.methods & Int32(AV_CODEC_HW_CONFIG_METHOD_HW_DEVICE_CTX) != 0 {
                return true
            }
            i += 1
        }
        return false
    }
}

/// An opened device context (`AVBufferRef` of an `AVHWDeviceContext`), owned; one per device per process.
final class HardwareDeviceContext: @unchecked Sendable {
    // Safe to share: the reference is created once, never changed, and FFmpeg's buffer references
    // count atomically; decoders each take a reference of their own.
    let reference: UnsafeMutablePointer<AVBufferRef>

    private init(reference: UnsafeMutablePointer<AVBufferRef>) { self.reference = reference }

    deinit {
        var r: UnsafeMutablePointer<AVBufferRef>? = reference
        av_buffer_unref(&r)
    }

    /// Each device is tried once per process: opening a missing one (loading the driver library,
    /// looking for a render node) is not repeated for every job.
    private static let opened = Mutex<[DecodeDevice: Result<HardwareDeviceContext, DeviceUnavailable>]>([:])

    /// The device's context, or why it cannot be had here.
    static func shared(_ device: DecodeDevice) -> Result<HardwareDeviceContext, DeviceUnavailable> {
        opened.withLock { cache in
            if let known = cache[device] { return known }
            var ref: UnsafeMutablePointer<AVBufferRef>?
            let (code, said) = FFmpegLog.capturing { av_hwdevice_ctx_create(&ref, device.type, nil, nil, 0) }
            // What the driver loader said ("Cannot load libcuda.so.1") says more than the error code.
            let why = said.first ?? ffmpegMessage(code)
            let result: Result<HardwareDeviceContext, DeviceUnavailable> = code >= 0 && ref != nil
                ? .success(HardwareDeviceContext(reference: ref!))
                : .failure(DeviceUnavailable(device: device, reason: "no \(device.title) device on this machine (\(why))"))
            cache[device] = result
            return result
        }
    }
}

/// A decoding device that cannot be used here, and why.
public struct DeviceUnavailable: Error, Sendable, Equatable, CustomStringConvertible, CategorizedError {
    public let device: DecodeDevice
    public let reason: String
    public var description: String { "decoder \(device.rawValue) was asked for, but \(reason)" }
    public var category: ErrorCategory { .unavailable }
}

/// Where a video decoder runs.
public enum DecoderPlacement: Sendable, Equatable {
    case cpu
    /// The first of NVDEC and VA-API that decodes the stream's codec here, else the CPU.
    case auto
    case device(DecodeDevice)
}

extension Decoder {
    /// Attaches the device `placement` picks for `codec` to the (not yet opened) context; nil: the CPU.
    /// Throws ``DeviceUnavailable`` when a device asked for by name cannot be had, and ``AutoFellBack``
    /// when `auto` found a device here that cannot decode this codec (the job's log says so).
    static func attachDevice(_ placement: DecoderPlacement, codec: UnsafePointer<AVCodec>, context: UnsafeMutablePointer<AVCodecContext>,
                             name: String) throws -> (HardwareDeviceContext, DecodeDevice)? {
        let candidates: [DecodeDevice]
        switch placement {
        case .cpu: return nil
        case .auto: candidates = DecodeDevice.allCases
        case .device(let d): candidates = [d]
        }
        var passedOver: [String] = []
        for device in candidates {
            switch HardwareDeviceContext.shared(device) {
            case .failure(let unavailable):
                if case .device = placement { throw unavailable }
            case .success(let shared):
                guard device.decodes(codec) else {
                    let why = "this FFmpeg's \(name) decoder cannot use \(device.title)"
                    if case .device = placement { throw DeviceUnavailable(device: device, reason: why) }
                    passedOver.append(why)
                    continue
                }
                context.pointee.hw_device_ctx = av_buffer_ref(shared.reference)
                return (shared, device)
            }
        }
        if !passedOver.isEmpty { throw AutoFellBack(reasons: passedOver) }
        return nil
    }

    /// `auto` found a device that cannot decode this stream: it runs on the CPU, for these reasons.
    struct AutoFellBack: Error { let reasons: [String] }
}
