/// Predictions that ended, kept in memory within a count and a byte budget (oldest go first), so a
/// GET, an idempotent PUT or a cancel of a finished id is answered from them. Owned by the
/// MemoryPredictionStore actor.
struct FinishedPredictions {
    let maxCount: Int
    let maxBytes: Int
    private var byID: [String: (prediction: Prediction, bytes: Int)] = [:]
    private var order: [String] = []
    private var bytes = 0

    init(maxCount: Int, maxBytes: Int) { self.maxCount = maxCount; self.maxBytes = maxBytes }

    subscript(id: String) -> Prediction? { byID[id]?.prediction }

    /// Keeps `p`; a prediction larger than the whole budget (a big data: URL output) is kept without
    /// its output, which the response already carried.
    mutating func insert(_ p: Prediction) {
        var kept = p
        var size = Self.size(of: kept)
        if size > maxBytes {
            kept.output = nil
            kept.logs = String(kept.logs.suffix(4096))
            size = Self.size(of: kept)
        }
        if let old = byID[p.id] { bytes -= old.bytes; order.removeAll { $0 == p.id } }
        byID[p.id] = (kept, size)
        order.append(p.id)
        bytes += size
        while order.count > maxCount || (bytes > maxBytes && order.count > 1) {
            let first = order.removeFirst()
            bytes -= byID.removeValue(forKey: first)?.bytes ?? 0
        }
    }

    /// About what the prediction holds in memory: its strings, outputs first.
    static func size(of p: Prediction) -> Int {
        func count(_ v: JSONValue?) -> Int {
            switch v {
            case .string(let s)?: return s.utf8.count
            case .array(let a)?: return a.reduce(0) { $0 + count($1) }
            case .object(let o)?: return o.values.reduce(0) { $0 + count($1) }
            default: return 8
            }
        }
        return 512 + count(p.output) + p.logs.utf8.count + (p.error?.utf8.count ?? 0) + count(.object(p.input))
    }
}
