#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import Pipeline

extension CompareReport {
    /// The curves whose encode speed and BD-rate (PSNR-Y) no other curve beats on both.
    public var paretoFront: [EncodeGroup] {
        let scored = groups.compactMap { g -> (EncodeGroup, fps: Double, bd: Double)? in
            guard let bd = bdRate(g, "psnr_y")?.percent else { return nil }
            return (g, meanFPS(g), bd)
        }
        return scored.filter { a in
            !scored.contains { b in b.fps >= a.fps && b.bd <= a.bd && (b.fps > a.fps || b.bd < a.bd) }
        }.map(\.0)
    }

    func meanFPS(_ g: EncodeGroup) -> Double {
        let ps = points.filter { $0.group == g }
        return ps.isEmpty ? 0 : ps.map(\.fps).reduce(0, +) / Double(ps.count)
    }

    /// The points whose per-frame quality is charted: the chosen point (``chartPoint``, else the baseline's
    /// middle-bitrate point), and for every other curve its point nearest that bitrate.
    public var framePoints: [PointResult] {
        let chosen: PointResult
        if let wanted = chartPoint, let p = points.first(where: { $0.group == wanted.group && $0.crf == wanted.quality }) {
            chosen = p
        } else {
            guard let baseline = groups.first(where: { $0.label == bdRate.first?.baseline }) ?? groups.first else { return [] }
            let base = points.filter { $0.group == baseline }.sorted { $0.bitrateKbps < $1.bitrateKbps }
            guard !base.isEmpty else { return [] }
            chosen = base[base.count / 2]
        }
        let distance = { (p: PointResult) -> Double in abs(log(p.bitrateKbps / chosen.bitrateKbps)) }
        let others = groups.filter { $0 != chosen.group }.compactMap { g -> PointResult? in
            points.filter { $0.group == g }.min { distance($0) < distance($1) }
        }
        return [chosen] + others
    }

    /// A self-contained HTML page (inline CSS and SVG, no scripts, nothing fetched) with the summary,
    /// the charts and every point.
    public var html: String {
        let metricNames = ["psnr_y": ("PSNR-Y", "dB"), "psnr_yuv": ("PSNR-YUV 6:1:1", "dB"), "ssim": ("SSIM", ""), "vmaf": ("VMAF", "")]
        let metricValue: [String: (PointResult) -> Double?] = ["psnr_y": { $0.psnrY }, "psnr_yuv": { $0.psnrYUV }, "ssim": { $0.ssim }, "vmaf": { $0.vmaf }]
        var h = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>vfx compare: \(escape(source.input))</title>
        <style>
        body{font-family:sans-serif;margin:2em auto;max-width:1340px;color:#222;padding:0 1em}
        table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}
        th{background:#f3f3f3}td.l,th.l{text-align:left}figure{display:inline-block;margin:0.5em;vertical-align:top}
        figcaption{font-size:13px;color:#555;max-width:640px}.note{color:#555;font-size:14px}
        </style></head><body>
        <h1>Codec comparison</h1>
        <p>Source: <b>\(escape(source.input))</b>, \(source.width)x\(source.height) \(escape(source.pixelFormat))\(source.frameRate.map { ", " + $0.fixed(3) + " fps" } ?? ""), \(source.frames) frames (\(source.duration.fixed(2)) s)\(source.chain.isEmpty ? "" : ", after the chain <code>" + escape(source.chain) + "</code>").</p>

        """
        if let s = source.sampled {
            h += "<p class=\"note\">Sampled: \(s.count) evenly spread segments of \(s[0][1].fixed(2)) s (starting at \(s.map { $0[0].fixed(1) + " s" }.joined(separator: ", "))) of the \((source.inputDuration ?? 0).fixed(1)) s input.</p>\n"
        }
        h += "<h2>Summary</h2>\n<p class=\"note\">BD-rate: how much more bitrate than \(escape(bdRate.first?.baseline ?? "the baseline")) an encoder needs for the same quality (negative: it saves bitrate; lower is better). Sorted by BD-rate on PSNR-Y.</p>\n"
        h += "<table><tr><th class=\"l\">encoder</th><th class=\"l\">preset</th><th>points</th><th>mean encode fps</th>"
        h += metrics.map { "<th>BD-rate \(metricNames[$0]!.0)</th>" }.joined() + "</tr>\n"
        for g in groupsByBDRate {
            h += "<tr><td class=\"l\">\(escape(g.codec))</td><td class=\"l\">\(escape(g.preset ?? "-"))</td><td>\(points.filter { $0.group == g }.count)</td><td>\(meanFPS(g).fixed(1))</td>"
            for m in metrics {
                let r = bdRate(g, m)
                h += "<td title=\"\(escape(r?.note ?? ""))\">\(r?.percent.map { ($0 >= 0 ? "+" : "") + $0.fixed(2) + "%" } ?? "n/a")</td>"
            }
            h += "</tr>\n"
        }
        h += "</table>\n"
        for r in bdRate where !r.note.isEmpty {
            h += "<p class=\"note\">\(escape(r.codec)) \(escape(r.preset ?? "")) (\(escape(r.metric))): \(escape(r.note))</p>\n"
        }

        h += "<h2>Rate-distortion curves</h2>\n"
        for m in metrics {
            let (name, unit) = metricNames[m]!
            let chart = SVGChart(title: "\(name) vs bitrate", xLabel: "bitrate (kbit/s, log scale)",
                                 yLabel: "\(name)\(unit.isEmpty ? "" : " (\(unit))"), higher is better", logX: true,
                                 series: groups.map { g in
                                     .init(name: g.label, points: points.filter { $0.group == g }.compactMap { p in metricValue[m]!(p).map { (p.bitrateKbps, $0) } })
                                 })
            h += "<figure class=\"chart rd\" data-metric=\"\(m)\">\(chart.render())<figcaption>Each point is one encode; up and to the left is better.</figcaption></figure>\n"
        }

        h += "<h2>Speed against compression</h2>\n"
        let front = paretoFront
        let scored = groups.filter { bdRate($0, "psnr_y")?.percent != nil }
        let speed = SVGChart(title: "Encode speed vs BD-rate (PSNR-Y)", xLabel: "mean encode speed (frames/s, log scale), higher is faster",
                             yLabel: "BD-rate vs \(bdRate.first?.baseline ?? "baseline") (%), lower is better", logX: true,
                             series: scored.map { g in .init(name: g.label, points: [(meanFPS(g), bdRate(g, "psnr_y")!.percent!)], lines: false) },
                             highlight: ("Pareto front", front.map { (meanFPS($0), bdRate($0, "psnr_y")!.percent!) }))
        h += "<figure class=\"chart speed\">\(speed.render())<figcaption>The dashed line joins the Pareto front: encoders no other beats on both speed and bitrate. Down and to the right is better.</figcaption></figure>\n"

        let chosen = framePoints
        if !chosen.isEmpty {
            let rate = source.frameRate ?? 25
            let frames = SVGChart(title: "PSNR-Y per frame", xLabel: "time (s)", yLabel: "PSNR-Y (dB), higher is better",
                                  series: chosen.map { p in
                                      .init(name: "\(p.group.label) crf \(p.crf)", points: p.perFrame.psnrY.enumerated().map { (Double($0.offset) / rate, $0.element) })
                                  })
            h += "<h2>Quality over time</h2>\n<figure class=\"chart frames\">\(frames.render())<figcaption>\(chartPoint == nil ? "The baseline's middle point" : "The chosen point") (\(escape(chosen[0].group.label)) crf \(chosen[0].crf), \(chosen[0].bitrateKbps.fixed(0)) kbit/s) and each other encoder's point nearest its bitrate.</figcaption></figure>\n"
        }

        h += "<h2>Every encode</h2>\n<table><tr><th class=\"l\">encoder</th><th class=\"l\">preset</th><th>crf</th><th>bytes</th><th>kbit/s</th><th>encode s</th><th>CPU s</th><th>fps</th><th>PSNR-Y</th><th>PSNR-YUV</th><th>SSIM</th><th>VMAF</th></tr>\n"
        for p in points {
            h += "<tr><td class=\"l\">\(escape(p.codec))</td><td class=\"l\">\(escape(p.preset ?? "-"))</td><td>\(p.crf)</td><td>\(p.bytes)</td><td>\(p.bitrateKbps.fixed(1))</td>"
            h += "<td>\(p.encodeSeconds.fixed(2))</td><td>\(p.cpuSeconds.fixed(2))</td><td>\(p.fps.fixed(1))</td><td>\(p.psnrY.fixed(3))</td><td>\(p.psnrYUV.fixed(3))</td><td>\(p.ssim.fixed(5))</td><td>\(p.vmaf.map { $0.fixed(2) } ?? "-")</td></tr>\n"
        }
        h += "</table>\n<h2>Method</h2>\n<ul class=\"note\">"
        h += "<li>\(escape(method.bdRate))</li><li>PSNR: \(escape(method.psnrYUV))</li><li>SSIM: \(escape(method.ssim))</li>"
        h += "<li>VMAF: \(escape(method.vmaf))</li><li>Timing: \(escape(method.timing))</li></ul>\n"
        for u in unavailable { h += "<p class=\"note\">Unavailable: <b>\(escape(u.codec))</b>: \(escape(u.reason))</p>\n" }
        for f in failures { h += "<p class=\"note\">Failed: <b>\(escape(f.codec)) \(escape(f.preset ?? "")) crf \(f.crf)</b>: \(escape(f.error))</p>\n" }
        return h + "</body></html>\n"
    }
}
