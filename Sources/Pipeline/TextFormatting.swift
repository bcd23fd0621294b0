#if canImport(Glibc)
import Glibc
#else
import Darwin
#endif

extension Double {
    /// The value with a fixed number of decimals, as C's `%.Nf` writes it: `3.14159.fixed(2)` is "3.14".
    public func fixed(_ decimals: Int) -> String {
        withVaList([Int32(max(0, min(decimals, 17))), self]) { args in
            var buffer = [CChar](repeating: 0, count: 352)  // fits any finite double with 17 decimals
            _ = buffer.withUnsafeMutableBufferPointer { vsnprintf($0.baseAddress, $0.count, "%.*f", args) }
            return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
    }
}
