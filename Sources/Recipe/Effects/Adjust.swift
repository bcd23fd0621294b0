#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Effects

extension EffectCatalogue {
    /// Brightness, contrast, gamma (per channel, in that order) and saturation.
    public static let adjust = EffectDefinition(
        name: "adjust", summary: "Brightness, contrast, saturation and gamma.", kind: .color,
        parameters: [
            ParameterSpec("brightness", .number(-1...1), default: .number(0), "Added to each channel, as a fraction of full scale."),
            ParameterSpec("contrast", .number(0...4), default: .number(1), "Spread around mid-grey; 1 leaves it."),
            ParameterSpec("saturation", .number(0...4), default: .number(1), "0 is grey, 1 leaves it, 2 doubles colourfulness."),
            ParameterSpec("gamma", .number(0.1...10), default: .number(1), "Above 1 brightens mid-tones (out = in^(1/gamma))."),
        ],
        lowering: .color { p, _ in
            let b = p.double("brightness")!, c = p.double("contrast")!, g = p.double("gamma")!, s = p.double("saturation")!
            var ops: [ColorOp] = []
            // Without gamma the curve is a line, which the kernels compute rather than look up (where
            // no value lands near a rounding tie).
            if g == 1, let line = ChannelMap.affine(scale: c, offset: (b * 255 - 127.5) * c + 127.5) {
                if b != 0 || c != 1 { ops.append(.curve(line: line)) }
            } else if b != 0 || c != 1 || g != 1 {
                ops.append(.curve { v in
                    let contrasted = (v + b * 255 - 127.5) * c + 127.5
                    return 255 * pow(min(max(contrasted, 0), 255) / 255, 1 / g)
                })
            }
            if s != 1 { ops.append(saturation(s)) }
            return ops
        })
}
