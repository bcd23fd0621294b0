/// How a Y'CbCr image maps to RGB: the matrix's luma weights and the value range.
public struct YUVColorSpace: Sendable, Equatable {
    public var kr: Double
    public var kb: Double
    /// Full range (0...255) rather than limited (16...235 luma, 16...240 chroma).
    public var fullRange: Bool

    public init(kr: Double, kb: Double, fullRange: Bool) {
        self.kr = kr; self.kb = kb; self.fullRange = fullRange
    }

    public static func bt601(fullRange: Bool = false) -> Self { .init(kr: 0.299, kb: 0.114, fullRange: fullRange) }
    public static func bt709(fullRange: Bool = false) -> Self { .init(kr: 0.2126, kb: 0.0722, fullRange: fullRange) }
    public static func bt2020(fullRange: Bool = false) -> Self { .init(kr: 0.2627, kb: 0.0593, fullRange: fullRange) }

    @inlinable var kg: Double { 1 - kr - kb }
    @inlinable var lumaOffset: Double { fullRange ? 0 : 16 }
    @inlinable var lumaScale: Double { fullRange ? 255 : 219 }
    @inlinable var chromaScale: Double { fullRange ? 255 : 224 }

    /// Reference conversion of one pixel to RGB in 0...255 (unrounded, unclamped).
    public func rgb(y: Double, u: Double, v: Double) -> (r: Double, g: Double, b: Double) {
        let ey = (y - lumaOffset) / lumaScale * 255
        let cb = (u - 128) / chromaScale * 255, cr = (v - 128) / chromaScale * 255
        let r = ey + 2 * (1 - kr) * cr
        let b = ey + 2 * (1 - kb) * cb
        let g = (ey - kr * r - kb * b) / kg
        return (r, g, b)
    }

    /// Reference conversion of RGB in 0...255 to Y'CbCr (unrounded).
    public func yuv(r: Double, g: Double, b: Double) -> (y: Double, u: Double, v: Double) {
        let ey = kr * r + kg * g + kb * b
        let y = lumaOffset + ey * lumaScale / 255
        let u = 128 + (b - ey) / (2 * (1 - kb)) * chromaScale / 255
        let v = 128 + (r - ey) / (2 * (1 - kr)) * chromaScale / 255
        return (y, u, v)
    }
}

/// Clamps to 0...255 and rounds half up, without a libm call.
@inlinable @inline(__always) func byte(_ x: Float) -> UInt8 {
    UInt8(truncatingIfNeeded: Int32(min(max(x, 0), 255) + 0.5))
}

/// An 8-bit planar Y'CbCr image: chroma planes are subsampled by 2^shift in each direction.
public struct YUVImage {
    public var y: Plane
    public var u: Plane
    public var v: Plane
    public var chromaShiftX: Int
    public var chromaShiftY: Int

    public init(y: Plane, u: Plane, v: Plane, chromaShiftX: Int, chromaShiftY: Int) {
        precondition((0...1).contains(chromaShiftX) && (0...1).contains(chromaShiftY), "chroma subsampling")
        precondition(u.width == (y.width + (1 << chromaShiftX) - 1) >> chromaShiftX, "chroma width")
        precondition(u.height == (y.height + (1 << chromaShiftY) - 1) >> chromaShiftY, "chroma height")
        self.y = y; self.u = u; self.v = v
        self.chromaShiftX = chromaShiftX; self.chromaShiftY = chromaShiftY
    }

    /// The luma rows `rows` and their chroma rows, as an image of their own; `rows` must start on an
    /// even row (a chroma row's first).
    public func rows(_ rows: Range<Int>) -> YUVImage {
        precondition(rows.lowerBound % 2 == 0 && rows.upperBound <= y.height && !rows.isEmpty, "row band")
        let c0 = rows.lowerBound >> chromaShiftY, c1 = (rows.upperBound - 1) >> chromaShiftY + 1
        func band(_ p: Plane, _ start: Int, _ end: Int) -> Plane { Plane(base: p.row(start), width: p.width, height: end - start, stride: p.stride) }
        return YUVImage(y: band(y, rows.lowerBound, rows.upperBound), u: band(u, c0, c1), v: band(v, c0, c1),
                        chromaShiftX: chromaShiftX, chromaShiftY: chromaShiftY)
    }
}

/// Scratch rows for the fused Y'CbCr kernel, grown to the widest image seen and reused.
///
/// One instance serves one thread; it allocates nothing per frame.
public final class FusedYUVScratch {
    // Per-pixel chroma contributions to R, G, B; then sums of mapped R, G, B over a chroma block row.
    @usableFromInline var cR, cG, cB, sR, sG, sB: UnsafeMutablePointer<Float>
    // Padded copies for each row's last partial vector.
    @usableFromInline let tailIn = UnsafeMutablePointer<UInt8>.allocate(capacity: 8)
    @usableFromInline let tailOut = UnsafeMutablePointer<UInt8>.allocate(capacity: 24)  // Y, then U and V for 4:4:4 out
    private var capacity = 0

    public init() {
        cR = .allocate(capacity: 0); cG = .allocate(capacity: 0); cB = .allocate(capacity: 0)
        sR = .allocate(capacity: 0); sG = .allocate(capacity: 0); sB = .allocate(capacity: 0)
        tailIn.initialize(repeating: 0, count: 8); tailOut.initialize(repeating: 0, count: 24)
    }

    deinit {
        for p in [cR, cG, cB, sR, sG, sB] { p.deallocate() }
        tailIn.deallocate(); tailOut.deallocate()
    }

    /// Makes the rows at least `width` floats long.
    public func reserve(width: Int) {
        let needed = (width + 7) & ~7
        guard needed > capacity else { return }
        for p in [cR, cG, cB, sR, sG, sB] { p.deallocate() }
        cR = .allocate(capacity: needed); cG = .allocate(capacity: needed); cB = .allocate(capacity: needed)
        sR = .allocate(capacity: needed); sG = .allocate(capacity: needed); sB = .allocate(capacity: needed)
        for p in [cR, cG, cB, sR, sG, sB] { p.initialize(repeating: 0, count: needed) }
        capacity = needed
    }
}

/// The per-pixel arithmetic of the fused kernel, as methods on constants (local closures that
/// capture would not be inlined into the loop).
@usableFromInline struct FusedLaneMath<L: PixelLanes, Copy: KernelCopy> {
    @usableFromInline let yMul, yR, yG, yB, yBias: F8
    @usableFromInline let lanes: L
    /// Chroma in: the Cr weight of R, Cb and Cr of G, Cb of B, and the luma offset they carry.
    @usableFromInline let crR, cbG, crG, cbB, yShift: F8
    /// Chroma out, from the sum of a 2x2 block (the 1/4 is folded in).
    @usableFromInline let uR, uG, uB, vR, vG, vB: F8
    @usableFromInline let c128 = F8(repeating: 128)

    @inlinable init(yMul: F8, yR: F8, yG: F8, yB: F8, yBias: F8, lanes: L,
                    crR: F8, cbG: F8, crG: F8, cbB: F8, yShift: F8, uR: F8, uG: F8, uB: F8, vR: F8, vG: F8, vB: F8) {
        self.yMul = yMul; self.yR = yR; self.yG = yG; self.yB = yB; self.yBias = yBias; self.lanes = lanes
        self.crR = crR; self.cbG = cbG; self.crG = crG; self.cbB = cbB; self.yShift = yShift
        self.uR = uR; self.uG = uG; self.uB = uB; self.vR = vR; self.vG = vG; self.vB = vB
    }

    /// The chroma terms of R, G and B for eight chroma samples.
    @usableFromInline @_transparent
    func chroma(_ uBytes: Bytes8, _ vBytes: Bytes8) -> (F8, F8, F8) {
        let copy = Copy.self
        let u = floats(uBytes) - c128, v = floats(vBytes) - c128
        return (mulAdd(crR, v, yShift, copy), mulAdd(cbG, u, mulAdd(crG, v, yShift, copy), copy), mulAdd(cbB, u, yShift, copy))
    }

    /// Chroma bytes of eight 2x2 blocks from the sums of their mapped R, G and B.
    @usableFromInline @_transparent
    func chromaOut(_ r: F8, _ g: F8, _ b: F8) -> (Bytes8, Bytes8) {
        let copy = Copy.self
        return (bytes(roundedByte(mulAdd(uB, b, mulAdd(uG, g, mulAdd(uR, r, c128, copy), copy), copy))),
                bytes(roundedByte(mulAdd(vB, b, mulAdd(vG, g, mulAdd(vR, r, c128, copy), copy), copy))))
    }

    /// Maps a 16x2 block of luma (`top`, `bottom`) whose even and odd columns of each row carry the
    /// given chroma terms; stores the new luma and the block's eight 4:2:0 chroma samples.
    @usableFromInline @_transparent
    func block(_ top: SIMD16<UInt8>, _ bottom: SIMD16<UInt8>,
               _ topEven: (F8, F8, F8), _ topOdd: (F8, F8, F8), _ bottomEven: (F8, F8, F8), _ bottomOdd: (F8, F8, F8),
               _ y0Out: UnsafeMutablePointer<UInt8>, _ y1Out: UnsafeMutablePointer<UInt8>,
               _ uOut: UnsafeMutablePointer<UInt8>, _ vOut: UnsafeMutablePointer<UInt8>) {
        let (r0, g0, b0) = mapped(floats(top.evenHalf), topEven.0, topEven.1, topEven.2)
        let (r1, g1, b1) = mapped(floats(top.oddHalf), topOdd.0, topOdd.1, topOdd.2)
        let (r2, g2, b2) = mapped(floats(bottom.evenHalf), bottomEven.0, bottomEven.1, bottomEven.2)
        let (r3, g3, b3) = mapped(floats(bottom.oddHalf), bottomOdd.0, bottomOdd.1, bottomOdd.2)
        var outTop = SIMD16<UInt8>(), outBottom = SIMD16<UInt8>()
        outTop.evenHalf = luma(r0, g0, b0)
        outTop.oddHalf = luma(r1, g1, b1)
        outBottom.evenHalf = luma(r2, g2, b2)
        outBottom.oddHalf = luma(r3, g3, b3)
        UnsafeMutableRawPointer(y0Out).storeBytes(of: outTop, as: SIMD16<UInt8>.self)
        UnsafeMutableRawPointer(y1Out).storeBytes(of: outBottom, as: SIMD16<UInt8>.self)
        let (u, v) = chromaOut((r0 + r1) + (r2 + r3), (g0 + g1) + (g2 + g3), (b0 + b1) + (b2 + b3))
        store8(u, uOut)
        store8(v, vOut)
    }

    /// Mapped R, G, B of eight pixels from their luma and their chroma terms.
    @usableFromInline @_transparent  // must inline: as a call it moves every vector through memory
    func mapped(_ y: F8, _ rc: F8, _ gc: F8, _ bc: F8) -> (F8, F8, F8) {
        let copy = Copy.self
        return lanes(roundedByte(mulAdd(y, yMul, rc, copy)), roundedByte(mulAdd(y, yMul, gc, copy)),
                     roundedByte(mulAdd(y, yMul, bc, copy)), copy)
    }

    /// Luma bytes of eight mapped pixels.
    @usableFromInline @_transparent
    func luma(_ r: F8, _ g: F8, _ b: F8) -> Bytes8 {
        let copy = Copy.self
        return bytes(roundedByte(mulAdd(yB, b, mulAdd(yG, g, mulAdd(yR, r, yBias, copy), copy), copy)))
    }
}

/// Applies a channel map to a Y'CbCr image as if it were converted to 8-bit RGB, mapped, and
/// converted back, in one pass: chroma is shared across its block on the way in and averaged over
/// the mapped block on the way out.
@inlinable @inline(__always)
func fusedYUVLoop<L: PixelLanes, Copy: KernelCopy>(_ src: YUVImage, _ dst: YUVImage, _ colorSpace: YUVColorSpace,
                                                    _ scratch: FusedYUVScratch, _ lanes: L, _ copy: Copy.Type) {
    // Local copies: class properties in the inner loop would pay exclusivity checks per access.
    let cR = scratch.cR, cG = scratch.cG, cB = scratch.cB, sR = scratch.sR, sG = scratch.sG, sB = scratch.sB
    let cs = colorSpace
    let width = src.y.width, height = src.y.height
    // Input chroma is read per pixel through the source's subsampling; output chroma averages the
    // mapped pixels of each destination block. The two layouts may differ (4:2:2 in, 4:2:0 out).
    let sx = src.chromaShiftX, sy = src.chromaShiftY
    let dsx = dst.chromaShiftX, dsy = dst.chromaShiftY
    // R = Y * yMul + yShift + crR * Cr, and so on: the luma offset rides with the chroma terms.
    let yMul = Float(255 / cs.lumaScale), cMul = Float(255 / cs.chromaScale)
    let yShift = Float(-cs.lumaOffset * 255 / cs.lumaScale)
    let crR = Float(2 * (1 - cs.kr)) * cMul
    let cbB = Float(2 * (1 - cs.kb)) * cMul
    let cbG = Float(-2 * (1 - cs.kb) * cs.kb / cs.kg) * cMul
    let crG = Float(-2 * (1 - cs.kr) * cs.kr / cs.kg) * cMul
    let ls = Float(cs.lumaScale / 255)
    let yR = F8(repeating: Float(cs.kr) * ls), yG = F8(repeating: Float(cs.kg) * ls), yB = F8(repeating: Float(cs.kb) * ls)
    let yBias = F8(repeating: Float(cs.lumaOffset))
    let cu = cs.chromaScale / 255 / (2 * (1 - cs.kb)), cv = cs.chromaScale / 255 / (2 * (1 - cs.kr))
    let uR = Float(-cs.kr * cu), uG = Float(-cs.kg * cu), uB = Float((1 - cs.kb) * cu)
    let vR = Float((1 - cs.kr) * cv), vG = Float(-cs.kg * cv), vB = Float(-cs.kb * cv)
    let body = width & ~7
    let blockW = 1 << sx, outBlockW = 1 << dsx
    let direct444 = dsx == 0 && dsy == 0
    let four = F8(repeating: 4)  // 4:4:4 out: one pixel stands for a whole block in the block weights

    let tailIn = scratch.tailIn, tailOut = scratch.tailOut
    // 4:2:0 out, fast path: whole 2x2 blocks, 8 chroma samples (16x2 pixels) at a time, all in vectors.
    let blockColumns = dsx == 1 && dsy == 1 ? (width / 16) * 16 : 0
    let math = FusedLaneMath<L, Copy>(
        yMul: F8(repeating: yMul), yR: yR, yG: yG, yB: yB, yBias: yBias, lanes: lanes,
        crR: F8(repeating: crR), cbG: F8(repeating: cbG), crG: F8(repeating: crG), cbB: F8(repeating: cbB),
        yShift: F8(repeating: yShift),
        uR: F8(repeating: uR / 4), uG: F8(repeating: uG / 4), uB: F8(repeating: uB / 4),
        vR: F8(repeating: vR / 4), vG: F8(repeating: vG / 4), vB: F8(repeating: vB / 4))

    for cy in 0..<dst.u.height {
        let firstRow = cy << dsy
        let rows = min(1 << dsy, height - firstRow)
        // Columns the vector block path covers in this chroma row (none when a row is missing).
        let done = rows == 2 ? blockColumns : 0
        let uOut = dst.u.row(cy), vOut = dst.v.row(cy)
        if done > 0 {
            let y0In = src.y.row(firstRow), y1In = src.y.row(firstRow + 1)
            let y0Out = dst.y.row(firstRow), y1Out = dst.y.row(firstRow + 1)
            // The input chroma rows of the block's two luma rows (one row for 4:2:0 in).
            let uTop = src.u.row(firstRow >> sy), vTop = src.v.row(firstRow >> sy)
            let uBottom = src.u.row((firstRow + 1) >> sy), vBottom = src.v.row((firstRow + 1) >> sy)
            var x = 0
            if sx == 1 && sy == 1 {
                while x < done {
                    let c = x >> 1
                    let terms = math.chroma(load8(uTop + c), load8(vTop + c))
                    math.block(UnsafeRawPointer(y0In + x).loadUnaligned(as: SIMD16<UInt8>.self),
                               UnsafeRawPointer(y1In + x).loadUnaligned(as: SIMD16<UInt8>.self),
                               terms, terms, terms, terms, y0Out + x, y1Out + x, uOut + c, vOut + c)
                    x += 16
                }
            } else if sx == 1 {  // 4:2:2 in: each row has its own chroma
                while x < done {
                    let c = x >> 1
                    let top = math.chroma(load8(uTop + c), load8(vTop + c))
                    let bottom = math.chroma(load8(uBottom + c), load8(vBottom + c))
                    math.block(UnsafeRawPointer(y0In + x).loadUnaligned(as: SIMD16<UInt8>.self),
                               UnsafeRawPointer(y1In + x).loadUnaligned(as: SIMD16<UInt8>.self),
                               top, top, bottom, bottom, y0Out + x, y1Out + x, uOut + c, vOut + c)
                    x += 16
                }
            } else {  // 4:4:4 in: every pixel has its own chroma
                while x < done {
                    let uT = UnsafeRawPointer(uTop + x).loadUnaligned(as: SIMD16<UInt8>.self)
                    let vT = UnsafeRawPointer(vTop + x).loadUnaligned(as: SIMD16<UInt8>.self)
                    let uB = UnsafeRawPointer(uBottom + x).loadUnaligned(as: SIMD16<UInt8>.self)
                    let vB = UnsafeRawPointer(vBottom + x).loadUnaligned(as: SIMD16<UInt8>.self)
                    math.block(UnsafeRawPointer(y0In + x).loadUnaligned(as: SIMD16<UInt8>.self),
                               UnsafeRawPointer(y1In + x).loadUnaligned(as: SIMD16<UInt8>.self),
                               math.chroma(uT.evenHalf, vT.evenHalf), math.chroma(uT.oddHalf, vT.oddHalf),
                               math.chroma(uB.evenHalf, vB.evenHalf), math.chroma(uB.oddHalf, vB.oddHalf),
                               y0Out + x, y1Out + x, uOut + (x >> 1), vOut + (x >> 1))
                    x += 16
                }
            }
            if done == width { continue }
        }
        var contributionsRow = -1
        for dy in 0..<rows {
            // Chroma contributions, computed once per input chroma sample and spread over its block.
            let chromaRow = (firstRow + dy) >> sy
            if chromaRow != contributionsRow {
                let uRow = src.u.row(chromaRow), vRow = src.v.row(chromaRow)
                for cx in (done >> sx)..<src.u.width {
                    let u = Float(uRow[cx]) - 128, v = Float(vRow[cx]) - 128
                    let r = crR * v + yShift, g = cbG * u + crG * v + yShift, b = cbB * u + yShift
                    let x0 = cx << sx
                    for x in x0..<min(x0 + blockW, width) { cR[x] = r; cG[x] = g; cB[x] = b }
                }
                contributionsRow = chromaRow
            }
            let yIn = src.y.row(firstRow + dy), yOut = dst.y.row(firstRow + dy)
            var x = done
            if body < width { for i in 0..<(width - body) { tailIn[i] = yIn[body + i] } }
            while x < width {
                // Full vectors straight from the row; the last partial one through the padded copy.
                let full = x < body
                let (r, g, b) = math.mapped(floats(load8(full ? yIn + x : tailIn)),
                                       UnsafeRawPointer(cR + x).loadUnaligned(as: F8.self),
                                       UnsafeRawPointer(cG + x).loadUnaligned(as: F8.self),
                                       UnsafeRawPointer(cB + x).loadUnaligned(as: F8.self))
                let pr = UnsafeMutableRawPointer(sR + x), pg = UnsafeMutableRawPointer(sG + x), pb = UnsafeMutableRawPointer(sB + x)
                if direct444 {  // each pixel's chroma straight from its mapped RGB (one row per chroma row)
                    let (u, v) = math.chromaOut(r * four, g * four, b * four)
                    store8(u, full ? uOut + x : tailOut + 8)
                    store8(v, full ? vOut + x : tailOut + 16)
                } else if dy == 0 {
                    pr.storeBytes(of: r, as: F8.self); pg.storeBytes(of: g, as: F8.self); pb.storeBytes(of: b, as: F8.self)
                } else {
                    pr.storeBytes(of: pr.loadUnaligned(as: F8.self) + r, as: F8.self)
                    pg.storeBytes(of: pg.loadUnaligned(as: F8.self) + g, as: F8.self)
                    pb.storeBytes(of: pb.loadUnaligned(as: F8.self) + b, as: F8.self)
                }
                store8(math.luma(r, g, b), full ? yOut + x : tailOut)
                x += 8
            }
            if body < width {
                for i in 0..<(width - body) { yOut[body + i] = tailOut[i] }
                if direct444 {
                    for i in 0..<(width - body) { uOut[body + i] = tailOut[8 + i]; vOut[body + i] = tailOut[16 + i] }
                }
            }
        }
        if direct444 { continue }
        // Average the mapped block and convert it back to chroma.
        for cx in (done >> dsx)..<dst.u.width {
            let x0 = cx << dsx
            let cols = min(outBlockW, width - x0)
            var r: Float = 0, g: Float = 0, b: Float = 0
            for i in 0..<cols { r += sR[x0 + i]; g += sG[x0 + i]; b += sB[x0 + i] }
            let scale = 1 / Float(cols * rows)
            r *= scale; g *= scale; b *= scale
            uOut[cx] = byte(128 + uR * r + uG * g + uB * b)
            vOut[cx] = byte(128 + vR * r + vG * g + vB * b)
        }
    }
}
