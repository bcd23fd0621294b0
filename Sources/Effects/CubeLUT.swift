/// A 3D colour lookup table read from Adobe's `.cube` text format, with the size limits the
/// server needs for files from strangers.
public struct CubeLUT: Sendable, Equatable {
    /// The largest file accepted, in bytes.
    public static let maxBytes = 16 << 20
    /// The largest edge accepted (65 is the biggest size in common use).
    public static let maxSize = 65

    public let size: Int
    /// Output colours in 0...1 (of the domain), red fastest, then green, then blue, as the file lists them.
    public let values: [SIMD3<Float>]
    public let domainMin: SIMD3<Float>
    public let domainMax: SIMD3<Float>

    /// Why a file is not a usable `.cube` LUT; `line` is 1-based.
    public struct ParseError: Error, CustomStringConvertible, Equatable {
        public let line: Int?
        public let reason: String
        public var description: String { line.map { "line \($0): \(reason)" } ?? reason }
    }

    /// Parses `bytes`; throws ``ParseError`` naming the line for anything malformed or over the limits.
    public init(bytes: [UInt8]) throws {
        guard bytes.count <= Self.maxBytes else {
            throw ParseError(line: nil, reason: "the file is \(bytes.count) bytes; the limit is \(Self.maxBytes)")
        }
        var size: Int?
        var values: [SIMD3<Float>] = []
        var lo = SIMD3<Float>(repeating: 0), hi = SIMD3<Float>(repeating: 1)
        var lineNumber = 0
        for rawLine in bytes.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            guard let text = String(validating: rawLine, as: UTF8.self) else {
                throw ParseError(line: lineNumber, reason: "not UTF-8 text")
            }
            let words = text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\r" })
            guard let head = words.first, !head.hasPrefix("#") else { continue }
            func numbers(_ w: ArraySlice<Substring>) throws -> SIMD3<Float> {
                let v = w.compactMap { Float(String($0)) }.filter(\.isFinite)
                guard w.count == 3, v.count == 3 else { throw ParseError(line: lineNumber, reason: "expected three numbers") }
                return SIMD3(v[0], v[1], v[2])
            }
            switch head {
            case "TITLE", "LUT_1D_INPUT_RANGE", "LUT_3D_INPUT_RANGE": continue
            case "LUT_1D_SIZE": throw ParseError(line: lineNumber, reason: "1D LUTs are not supported; use a 3D .cube LUT")
            case "LUT_3D_SIZE":
                guard words.count == 2, let n = Int(words[1]), (2...Self.maxSize).contains(n) else {
                    throw ParseError(line: lineNumber, reason: "LUT_3D_SIZE must be 2...\(Self.maxSize)")
                }
                guard size == nil, values.isEmpty else { throw ParseError(line: lineNumber, reason: "LUT_3D_SIZE must come once, before the data") }
                size = n
                values.reserveCapacity(n * n * n)
            case "DOMAIN_MIN": lo = try numbers(words.dropFirst())
            case "DOMAIN_MAX": hi = try numbers(words.dropFirst())
            default:
                guard let n = size else { throw ParseError(line: lineNumber, reason: "expected a keyword (TITLE, DOMAIN_MIN, DOMAIN_MAX, LUT_3D_SIZE) or, after LUT_3D_SIZE, three numbers") }
                guard values.count < n * n * n else { throw ParseError(line: lineNumber, reason: "more than \(n)³ entries") }
                values.append(try numbers(words[...]))
            }
        }
        guard let n = size else { throw ParseError(line: nil, reason: "no LUT_3D_SIZE line: not a 3D .cube LUT") }
        guard values.count == n * n * n else { throw ParseError(line: nil, reason: "\(values.count) entries where LUT_3D_SIZE \(n) needs \(n * n * n)") }
        guard all(hi .> lo) else { throw ParseError(line: nil, reason: "DOMAIN_MAX must be above DOMAIN_MIN") }
        self.size = n
        self.values = values
        domainMin = lo; domainMax = hi
    }

    /// The LUT as a colour step: input 0...255 read as 0...1 within the domain, output scaled to 0...255.
    public func colorOp(_ interpolation: CubeInterpolation = .tetrahedral) -> ColorOp {
        .lut(CubeGrid(size: size, values: values, domainMin: domainMin, domainMax: domainMax, interpolation: interpolation))
    }
}
