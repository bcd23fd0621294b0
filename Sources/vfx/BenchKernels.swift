import ArgumentParser
import Effects
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
#if canImport(Glibc)
import Glibc
#endif
import Pipeline
import PixelKernels
import Recipe

struct BenchKernels: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench-kernels", abstract: "Measure the effect kernels alone (megapixels per second, one core).",
        shouldDisplay: false)

    @Option(help: "Frame width.") var width = 1920
    @Option(help: "Frame height.") var height = 1080
    @Option(help: "Only the kernels whose name starts with this (posterize, lut, grain...).") var only: String?

    func wanted(_ name: String) -> Bool { only.map { name.hasPrefix($0) } ?? true }

    func run() throws {
        let w = width, h = height, cw = (w + 1) / 2, ch = (h + 1) / 2
        var rng = SystemRandomNumberGenerator()
        var buffers: [UnsafeMutablePointer<UInt8>] = []
        defer { buffers.forEach { $0.deallocate() } }
        func buffer(_ n: Int) -> UnsafeMutablePointer<UInt8> {
            let p = UnsafeMutablePointer<UInt8>.allocate(capacity: n)
            for i in 0..<n { p[i] = UInt8.random(in: 0...255, using: &rng) }
            buffers.append(p)
            return p
        }
        let planes = (0..<3).map { _ in Plane(base: buffer(w * h), width: w, height: h, stride: w) }
        let rgb = RGBPlanes(r: planes[0], g: planes[1], b: planes[2])
        func yuv(chromaHeight: Int, shiftY: Int) -> YUVImage {
            YUVImage(y: Plane(base: buffer(w * h), width: w, height: h, stride: w),
                     u: Plane(base: buffer(cw * chromaHeight), width: cw, height: chromaHeight, stride: cw),
                     v: Plane(base: buffer(cw * chromaHeight), width: cw, height: chromaHeight, stride: cw),
                     chromaShiftX: 1, chromaShiftY: shiftY)
        }
        let src = yuv(chromaHeight: ch, shiftY: 1), dst = yuv(chromaHeight: ch, shiftY: 1)
        let src422 = yuv(chromaHeight: h, shiftY: 0)
        // A picture-like frame (smooth gradients): neighbouring pixels share a LUT cell, as in real video.
        let smooth = yuv(chromaHeight: ch, shiftY: 1)
        for y in 0..<h { for x in 0..<w { smooth.y.row(y)[x] = UInt8((x * 200 / w + y * 55 / h) & 255) } }
        for y in 0..<ch { for x in 0..<cw { smooth.u.row(y)[x] = UInt8(64 + x * 128 / cw); smooth.v.row(y)[x] = UInt8(64 + y * 128 / ch) } }
        func rate(_ body: () -> Void) -> Double {
            body()
            var runs = 0
            let start = Date()
            repeat { body(); runs += 1 } while Date().timeIntervalSince(start) < 1
            return Double(runs * w * h) / Date().timeIntervalSince(start) / 1e6
        }
        print("kernel (\(w)x\(h))                                MP/s (one core unless banded)")
        // Composed colour chains: five curves (one table), and five steps with cross-channel ones (curve, lattice, curve).
        // A 33-point .cube LUT: a warm grade, as `scripts/bench` writes it.
        var cube = "LUT_3D_SIZE 33\n"
        for b in 0..<33 { for g in 0..<33 { for r in 0..<33 {
            let x = [Double(r) / 32, Double(g) / 32, Double(b) / 32]
            cube += "\(min(1, pow(x[0], 0.9) * 1.05)) \(x[1]) \(pow(x[2], 1.1) * 0.95)\n"
        } } }
        let cubeBytes = Array(cube.utf8)
        for (label, chain) in [("5 curves", "adjust:brightness=0.05 | adjust:contrast=1.2 | adjust:gamma=1.1 | invert | posterize:levels=6"),
                               ("5 mixed", "adjust:brightness=0.05,contrast=1.2 | hue:degrees=20 | sepia:strength=0.4 | invert | posterize:levels=6"),
                               ("lut33 tetra", "lut:url=warm.cube"), ("lut33 tri", "lut:url=warm.cube,interpolation=trilinear")] {
            let ops = try Chain.resolve(try Chain.parse(chain)).flatMap { step -> [ColorOp] in
                guard case .color(let lower) = step.definition.lowering else { return [] }
                return try lower(step.parameters, { _ in cubeBytes })
            }
            guard wanted(label) else { continue }
            let map = ColorComposer.compose(ops)
            for isa in InstructionSet.available {
                let fused = FusedYUVKernel(map: map, colorSpace: .bt709(), instructionSet: isa)
                let cores = ProcessInfo.processInfo.activeProcessorCount
                let banded = FusedYUVKernel(map: map, colorSpace: .bt709(), instructionSet: isa, bands: cores)
                for (kernel, source, picture) in [(fused, src, "fused YUV420->RGB->YUV"), (fused, smooth, "fused, smooth picture"),
                                                  (banded, src, "fused, \(cores) bands (all cores)")] {
                    let number = rate { kernel.process(source, into: dst) }.fixed(1)
                    print(padded(label, 11) + padded("SIMD \(padded(isa.rawValue, 9))\(picture)", 39)
                          + String(repeating: " ", count: max(1, 9 - number.count)) + number)
                }
            }
        }
        for (name, map) in [("posterize", ChannelMap.posterize(levels: 25)), ("threshold", .threshold(cut: 0.5 * 255))] where wanted(name) {
            func row(_ kernel: String, _ rate: Double) {
                let number = rate.fixed(1)
                print(padded(name, 11) + padded(kernel, 39) + String(repeating: " ", count: max(1, 9 - number.count)) + number)
            }
            row("reference, planar RGB", rate { for p in rgb.all { map.applyReference(to: p) } })
            for isa in InstructionSet.available {
                row("SIMD \(padded(isa.rawValue, 9))planar RGB", rate { for p in rgb.all { map.apply(to: p, using: isa) } })
            }
            for isa in InstructionSet.available {
                let fused = FusedYUVKernel(map: map, colorSpace: .bt709(), instructionSet: isa)
                row("SIMD \(padded(isa.rawValue, 9))fused YUV420->RGB->YUV", rate { fused.process(src, into: dst) })
                row("SIMD \(padded(isa.rawValue, 9))fused 4:2:2 in, 4:2:0 out", rate { fused.process(src422, into: dst) })
            }
        }
        guard wanted("grain") else { return }
        // Grain on a 4:2:0 frame's three planes, a new frame key each pass.
        let grain = GrainNoise(amplitude: 9, seed: 20_261_125)
        var key: Int64 = 0
        let planes420 = [src.y, src.u, src.v]
        func grainRow(_ kernel: String, _ rate: Double) {
            let number = rate.fixed(1)
            print(padded("grain", 11) + padded(kernel, 39) + String(repeating: " ", count: max(1, 9 - number.count)) + number)
        }
        grainRow("reference, YUV 4:2:0", rate { key += 1; for (i, p) in planes420.enumerated() { grain.referenceApply(to: p, frame: key, plane: i) } })
        for isa in InstructionSet.available {
            grainRow("SIMD \(padded(isa.rawValue, 9))YUV 4:2:0", rate {
                key += 1
                for (i, p) in planes420.enumerated() { grain.apply(to: p, frame: key, planeIndex: i, using: isa) }
            })
        }
    }
}
