#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

/// A line or scatter chart drawn as standalone SVG (no scripts, no external resources).
struct SVGChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var lines = true
        /// Labels drawn beside each point (same count as points), if any.
        var labels: [String]? = nil
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var logX = false
    var series: [Series]
    /// An extra polyline drawn dashed (the Pareto front), with its legend name.
    var highlight: (name: String, points: [(x: Double, y: Double)])? = nil

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22"]
    let width = 640.0, height = 400.0
    let left = 70.0, right = 170.0, top = 36.0, bottom = 52.0

    func render() -> String {
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) }
        var svg = "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" width=\"\(Int(width))\" height=\"\(Int(height))\" role=\"img\" aria-label=\"\(escape(title))\">"
        svg += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>"
        svg += text(width / 2 - right / 2 + left / 2, 20, title, anchor: "middle", size: 15, weight: "bold")
        guard !all.isEmpty else { return svg + text(width / 2, height / 2, "no data", anchor: "middle") + "</svg>" }
        let tx = { (v: Double) in logX ? log10(v) : v }
        var (x0, x1) = (all.map { tx($0.x) }.min()!, all.map { tx($0.x) }.max()!)
        var (y0, y1) = (all.map(\.y).min()!, all.map(\.y).max()!)
        if x1 - x0 < 1e-9 { x0 -= 0.5; x1 += 0.5 }
        if y1 - y0 < 1e-9 { y0 -= 0.5; y1 += 0.5 }
        let padX = (x1 - x0) * 0.05, padY = (y1 - y0) * 0.08
        x0 -= padX; x1 += padX; y0 -= padY; y1 += padY
        let plotW = width - left - right, plotH = height - top - bottom
        let px = { (v: Double) in left + (tx(v) - x0) / (x1 - x0) * plotW }
        let py = { (v: Double) in top + (1 - (v - y0) / (y1 - y0)) * plotH }

        svg += "<g stroke=\"#ddd\" stroke-width=\"1\">"
        var axis = ""
        for t in (logX ? logTicks(x0, x1) : niceTicks(x0, x1)) {
            let x = logX ? left + (log10(t) - x0) / (x1 - x0) * plotW : left + (t - x0) / (x1 - x0) * plotW
            svg += "<line x1=\"\(f(x))\" y1=\"\(f(top))\" x2=\"\(f(x))\" y2=\"\(f(top + plotH))\"/>"
            axis += text(x, top + plotH + 16, number(t), anchor: "middle", size: 11)
        }
        for t in niceTicks(y0, y1) {
            let y = py(t)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + plotW))\" y2=\"\(f(y))\"/>"
            axis += text(left - 6, y + 4, number(t), anchor: "end", size: 11)
        }
        svg += "</g>" + axis
        svg += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(plotW))\" height=\"\(f(plotH))\" fill=\"none\" stroke=\"#333\"/>"
        svg += text(left + plotW / 2, height - 12, xLabel, anchor: "middle", size: 12)
        svg += "<text x=\"16\" y=\"\(f(top + plotH / 2))\" font-size=\"12\" font-family=\"sans-serif\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(top + plotH / 2)))\">\(escape(yLabel))</text>"

        var legendY = top + 8
        for (i, s) in series.enumerated() {
            let color = Self.palette[i % Self.palette.count]
            let pts = s.points.filter { $0.x.isFinite && $0.y.isFinite && (!logX || $0.x > 0) }
            if s.lines && pts.count > 1 {
                let d = pts.sorted { $0.x < $1.x }.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
                svg += "<polyline class=\"series\" fill=\"none\" stroke=\"\(color)\" stroke-width=\"2\" points=\"\(d)\"/>"
            }
            // Dense series (values per frame) read better as lines alone.
            for (k, p) in s.points.enumerated() where pts.count <= 60 && p.x.isFinite && p.y.isFinite && (!logX || p.x > 0) {
                svg += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3.5\" fill=\"\(color)\"><title>\(escape(s.name)): \(number(p.x)), \(number(p.y))</title></circle>"
                if let l = s.labels?[k] { svg += text(px(p.x) + 6, py(p.y) - 6, l, anchor: "start", size: 10) }
            }
            svg += "<rect x=\"\(f(width - right + 12))\" y=\"\(f(legendY - 9))\" width=\"12\" height=\"12\" fill=\"\(color)\"/>"
            svg += text(width - right + 30, legendY + 1, s.name, anchor: "start", size: 11)
            legendY += 18
        }
        if let h = highlight, h.points.count > 0 {
            let d = h.points.sorted { $0.x < $1.x }.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            svg += "<polyline class=\"pareto\" fill=\"none\" stroke=\"#000\" stroke-width=\"1.5\" stroke-dasharray=\"5 4\" points=\"\(d)\"/>"
            svg += "<line x1=\"\(f(width - right + 12))\" y1=\"\(f(legendY - 3))\" x2=\"\(f(width - right + 24))\" y2=\"\(f(legendY - 3))\" stroke=\"#000\" stroke-dasharray=\"3 2\"/>"
            svg += text(width - right + 30, legendY + 1, h.name, anchor: "start", size: 11)
        }
        return svg + "</svg>"
    }

    private func f(_ v: Double) -> String { v.fixed(1) }

    private func text(_ x: Double, _ y: Double, _ s: String, anchor: String, size: Int = 12, weight: String = "normal") -> String {
        "<text x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(size)\" font-family=\"sans-serif\" font-weight=\"\(weight)\" text-anchor=\"\(anchor)\">\(escape(s))</text>"
    }

    private func number(_ v: Double) -> String {
        let a = abs(v)
        if a >= 100 || v == v.rounded() && a < 1e6 { return v.fixed(0) }
        if a >= 10 { return v.fixed(1) }
        if a >= 1 { return v.fixed(2) }
        return v.fixed(4)
    }

    /// About six round values (1, 2 or 5 times a power of ten apart) inside [lo, hi].
    func niceTicks(_ lo: Double, _ hi: Double) -> [Double] {
        let raw = (hi - lo) / 6
        let mag = pow(10, floor(log10(raw)))
        let step = [1.0, 2, 5, 10].map { $0 * mag }.first { $0 >= raw } ?? 10 * mag
        var out: [Double] = []
        var t = ceil(lo / step) * step
        while t <= hi + step * 1e-9 { out.append(abs(t) < step * 1e-9 ? 0 : t); t += step }
        return out
    }

    /// 1-2-5 values per decade inside [10^lo, 10^hi] (log10 bounds).
    func logTicks(_ lo: Double, _ hi: Double) -> [Double] {
        var out: [Double] = []
        for e in Int(floor(lo))...Int(ceil(hi)) {
            for m in [1.0, 2, 5] {
                let v = m * pow(10, Double(e))
                if log10(v) >= lo && log10(v) <= hi { out.append(v) }
            }
        }
        if out.count < 2 {
            // A narrow range: plain ticks on the value scale.
            return niceTicks(pow(10, lo), pow(10, hi))
        }
        return out
    }
}

/// Text made safe inside HTML and SVG.
func escape(_ s: String) -> String {
    var out = ""
    for c in s {
        switch c {
        case "&": out += "&amp;"
        case "<": out += "&lt;"
        case ">": out += "&gt;"
        case "\"": out += "&quot;"
        case "'": out += "&#39;"
        default: out.append(c)
        }
    }
    return out
}
