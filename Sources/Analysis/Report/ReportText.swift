import Pipeline

extension CompareReport {
    /// The terminal table: one row per encoder and preset, sorted by BD-rate on PSNR-Y (lowest first),
    /// then the encoders that could not run and the encodes that failed.
    public var table: String {
        var rows: [[String]] = [["encoder", "preset", "points", "kbps", "PSNR-Y", "SSIM", "enc fps", "CPU s",
                                 "BD-rate PSNR-Y", "BD-rate PSNR-YUV", "BD-rate SSIM"] + (metrics.contains("vmaf") ? ["BD-rate VMAF"] : [])]
        for g in groupsByBDRate {
            let ps = points.filter { $0.group == g }.sorted { $0.bitrateKbps < $1.bitrateKbps }
            let kbps = "\(ps.first!.bitrateKbps.fixed(0))-\(ps.last!.bitrateKbps.fixed(0))"
            let psnr = "\(ps.first!.psnrY.fixed(2))-\(ps.last!.psnrY.fixed(2))"
            let ssim = "\(ps.first!.ssim.fixed(4))-\(ps.last!.ssim.fixed(4))"
            let fps = ps.map(\.fps).reduce(0, +) / Double(ps.count)
            let cpu = ps.map(\.cpuSeconds).reduce(0, +)
            let bd = metrics.map { m -> String in
                guard let r = bdRate(g, m) else { return "-" }
                return r.percent.map { ($0 >= 0 ? "+" : "") + $0.fixed(2) + "%" } ?? "n/a"
            }
            rows.append([g.codec, g.preset ?? "-", "\(ps.count)", kbps, psnr, ssim, fps.fixed(1), cpu.fixed(2)] + bd)
        }
        let widths = rows[0].indices.map { c in rows.map { $0[c].count }.max()! }
        var lines = rows.map { row in
            row.enumerated().map { c, cell in
                let pad = String(repeating: " ", count: widths[c] - cell.count)
                return c < 2 ? cell + pad : pad + cell
            }.joined(separator: "  ")
        }
        lines.insert(widths.map { String(repeating: "-", count: $0) }.joined(separator: "  "), at: 1)
        lines.append("")
        lines.append("BD-rate against \(bdRate.first?.baseline ?? "the baseline"): bitrate needed for the same quality; negative saves.")
        for r in bdRate where !r.note.isEmpty { lines.append("note: \(r.codec) \(r.preset ?? "") \(r.metric): \(r.note)") }
        if let s = source.sampled {
            lines.append("sampled: \(s.count) segment\(s.count == 1 ? "" : "s") of \(s[0][1].fixed(1)) s from \((source.inputDuration ?? 0).fixed(1)) s")
        }
        lines.append("VMAF: \(method.vmaf)")
        for u in unavailable { lines.append("unavailable: \(u.codec): \(u.reason)") }
        for f in failures { lines.append("failed: \(f.codec) \(f.preset ?? "") crf \(f.crf): \(f.error)") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Every point as CSV, with a header row.
    public var csv: String {
        var lines = ["codec,preset,crf,bytes,bitrate_kbps,encode_seconds,cpu_seconds,fps,frames,psnr_y,psnr_yuv,ssim,vmaf"]
        for p in points {
            let cells = [Self.csvField(p.codec), Self.csvField(p.preset ?? ""), "\(p.crf)", "\(p.bytes)", p.bitrateKbps.fixed(3),
                         p.encodeSeconds.fixed(3), p.cpuSeconds.fixed(3), p.fps.fixed(2), "\(p.frames)", p.psnrY.fixed(4),
                         p.psnrYUV.fixed(4), p.ssim.fixed(6), p.vmaf.map { $0.fixed(4) } ?? ""]
            lines.append(cells.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A CSV cell, quoted when it holds a comma, quote or line break (RFC 4180).
    static func csvField(_ s: String) -> String {
        guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else { return s }
        return "\"" + s.replacing("\"", with: "\"\"") + "\""
    }
}
