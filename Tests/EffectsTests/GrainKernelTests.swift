import Foundation
import Testing
@testable import Effects

/// Film grain: the fast kernel equals its reference (every copy, odd widths, padded strides, rows past one
/// stretch of the table), each frame
/// draws its own noise from its time alone, and the noise is uniform over its span.
@Suite struct GrainKernelTests {
    @Test(arguments: [(1, 1, 0), (7, 3, 1), (17, 5, 13), (33, 9, 3), (641, 7, 64), (16, 2, 0), (1920, 3, 64), (16_400, 2, 7)])
    func fastKernelEqualsReferenceOnRandomPlanes(width: Int, height: Int, padding: Int) {
        var rng = SystemRandomNumberGenerator()
        for isa in InstructionSet.available {
            for (amplitude, frame) in [(9, Int64(0)), (18, 1234), (1, -7), (127, Int64.max), (30, 1 << 40)] {
                let grain = GrainNoise(amplitude: amplitude, seed: 20_261_125)
                let plane = TestPlane(width: width, height: height, padding: padding, seed: &rng)
                let reference = TestPlane(copying: plane)
                plane.withPlane { grain.apply(to: $0, frame: frame, planeIndex: 1, using: isa) }
                reference.withPlane { grain.referenceApply(to: $0, frame: frame, plane: 1) }
                #expect(plane.bytes == reference.bytes, "\(isa) \(width)x\(height)+\(padding) a\(amplitude) f\(frame)")
            }
        }
    }

    @Test func noiseDependsOnTheFrameAndPlaneOnlyAndIsUniform() {
        let grain = GrainNoise(amplitude: 10, seed: 7)
        func draw(frame: Int64, plane: Int) -> [UInt8] {
            var bytes = [UInt8](repeating: 128, count: 256 * 64)
            bytes.withUnsafeMutableBufferPointer { grain.apply(to: Plane(base: $0.baseAddress!, width: 256, height: 64, stride: 256), frame: frame, planeIndex: plane) }
            return bytes
        }
        let a = draw(frame: 3000, plane: 0)
        #expect(a == draw(frame: 3000, plane: 0), "the same frame draws the same grain")
        #expect(a != draw(frame: 3001, plane: 0) && a != draw(frame: 3000, plane: 1))
        var counts = [Int](repeating: 0, count: 21)
        for v in a { counts[Int(v) - 118] += 1 }
        #expect(a.allSatisfy { (118...138).contains($0) })
        // 16384 draws over 21 values: about 780 each.
        #expect(counts.allSatisfy { (600...960).contains($0) }, "\(counts)")
        let mean = Double(a.reduce(0) { $0 + Int($1) }) / Double(a.count)
        #expect(abs(mean - 128) < 0.3, "\(mean)")
        var none = [UInt8](repeating: 5, count: 10)
        none.withUnsafeMutableBufferPointer { GrainNoise(amplitude: 0, seed: 1).apply(to: Plane(base: $0.baseAddress!, width: 10, height: 1, stride: 10), frame: 1, planeIndex: 0) }
        #expect(none == [UInt8](repeating: 5, count: 10))
    }
}
