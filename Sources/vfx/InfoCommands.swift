import ArgumentParser
import Effects
#if canImport(FoundationEssentials)
import FoundationEssentials
#else
import Foundation
#endif
import MediaIO
import Pipeline
import Recipe

struct Probe: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Describe a media file's container and streams.")

    @Argument(help: "Input: a path, or a file://, http(s):// or data: URL.")
    var input: String

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        FFmpegLog.configure(verbose: false)
        let info: MediaInfo
        do { info = try MediaInfo.probe(input) } catch {
            printError("error: \(error)")
            throw ExitCode.failure
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(info), as: UTF8.self))
            return
        }
        print("\(info.input): \(info.format)" + (info.duration.map { ", \($0.fixed(3))s" } ?? ""))
        for s in info.streams {
            var parts = ["#\(s.index)", s.kind, s.codec]
            if let w = s.width, let h = s.height { parts.append("\(w)x\(h)") }
            if let p = s.pixelFormat { parts.append(p) }
            if let r = s.frameRate { parts.append("\(r.fixed(3)) fps") }
            if let n = s.frameCount { parts.append("\(n) frames") }
            if let r = s.sampleRate { parts.append("\(r) Hz") }
            if let c = s.channels { parts.append("\(c) ch") }
            if let r = s.rotation { parts.append("rotated \(r)°") }
            print("  " + parts.joined(separator: "  "))
        }
    }
}

struct Codecs: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "List the output codecs and whether each opens on this machine.")

    @Flag(help: "Print JSON.")
    var json = false

    func run() throws {
        FFmpegLog.configure(verbose: false)
        let list = CodecCatalog.probe()
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(list), as: UTF8.self))
            return
        }
        for a in list {
            let entry = OutputCatalogue.encoder(named: a.name)
            var line = padded(a.name, 12) + " " + padded(a.format, 5)
            line += a.hardware ? " gpu " : " cpu "
            if a.opens { line += " opens" } else {
                line += " unavailable: \(a.reason ?? "?")"
                if let fb = entry?.fallbacks.first, a.hardware { line += " (falls back to \(fb))" }
            }
            print(line)
        }
        let copies = InstructionSet.available.map(\.rawValue).joined(separator: ", ")
        print("effect kernels: \(InstructionSet.preferred) (this CPU runs \(copies); VFX_ISA picks one)")
    }
}

struct EffectsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "effects", abstract: "List the effects and their parameters.")

    @Flag(help: "Print the catalogue as JSON.")
    var json = false

    @Flag(help: "Print the catalogue as a Markdown table.")
    var markdown = false

    func run() throws {
        if markdown {
            print(EffectDescription.markdownTable())
            return
        }
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            print(String(decoding: try encoder.encode(EffectDescription.all), as: UTF8.self))
            return
        }
        for kind in EffectKind.allCases {
            print(["preprocess": "Preprocessing", "color": "Colour (consecutive ones fuse into one pass)", "spatial": "Spatial and time"][kind.rawValue]! + ":")
            for d in EffectCatalogue.all where d.kind == kind {
                print("  " + padded(d.name, 11) + d.summary)
                for p in d.parameters {
                    var line = "      " + padded(p.name, 11) + p.rangeText
                    if let unit = p.unit { line += " \(unit)" }
                    if let v = p.defaultValue { line += ", default \(v)" } else if p.required { line += ", required" }
                    print(line + ". " + p.summary)
                }
            }
        }
        print("\nChain them with '|': vfx process in.mp4 -o out.mp4 --chain \"trim:start=2,end=8 | resize:width=1280 | posterize:levels=6 | vignette\"")
    }
}
