import Effects

extension EffectCatalogue {
    /// A 3D colour LUT from a .cube file, parsed and checked by VideoFX (never handed to libavfilter).
    public static let lut = EffectDefinition(
        name: "lut", summary: "Apply a 3D colour LUT (.cube file, up to 65³ entries).", kind: .color,
        parameters: [ParameterSpec("url", .url, required: true,
                                   "The .cube file: a path on the command line; an http(s) or data: URL in the API."),
                     ParameterSpec("interpolation", .choice(CubeInterpolation.allCases.map(\.rawValue)), default: .string("tetrahedral"),
                                   "Between the file's entries: tetrahedral (4 entries, as most grading tools) or trilinear (8).")],
        lowering: .color { p, read in
            let location = p.string("url")!
            let bytes: [UInt8]
            do { bytes = try read(location) } catch let e as RecipeError { throw e } catch {
                throw RecipeError.resource(step: "lut", location: location, reason: "\(error)")
            }
            do { return [try CubeLUT(bytes: bytes).colorOp(CubeInterpolation(rawValue: p.string("interpolation")!)!)] } catch {
                throw RecipeError.resource(step: "lut", location: location, reason: "not a usable .cube LUT: \(error)")
            }
        })
}
