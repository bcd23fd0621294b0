#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Effects

extension EffectCatalogue {
    /// Rotates hues around the grey axis, keeping luma.
    public static let hue = EffectDefinition(
        name: "hue", summary: "Rotate every hue around the colour wheel, keeping brightness.", kind: .color,
        parameters: [ParameterSpec("degrees", .number(-360...360), required: true, unit: "degrees", "Rotation; 180 swaps complementary colours.")],
        lowering: .color { p, _ in
            let a = p.double("degrees")! * .pi / 180, c = cos(a), s = sin(a)
            // The luma-preserving hue rotation (Rec. 709 weights), as in SVG's feColorMatrix hueRotate.
            return [.matrix([
                [0.2126 + 0.7874 * c - 0.2126 * s, 0.7152 - 0.7152 * c - 0.7152 * s, 0.0722 - 0.0722 * c + 0.9278 * s],
                [0.2126 - 0.2126 * c + 0.143 * s, 0.7152 + 0.2848 * c + 0.140 * s, 0.0722 - 0.0722 * c - 0.283 * s],
                [0.2126 - 0.2126 * c - 0.7874 * s, 0.7152 - 0.7152 * c + 0.7152 * s, 0.0722 + 0.9278 * c + 0.0722 * s],
            ])]
        })
}
