import ArgumentParser
import MediaIO
import Pipeline

struct PreviewCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "preview", abstract: "Render one frame of a chain to a PNG (optionally beside the original).")

    @Argument(help: "Input: a path, or a file://, http(s):// or data: URL.")
    var input: String

    @Option(name: .shortAndLong, help: "The .png to write.")
    var output: String

    @OptionGroup var steps: StepOptions

    @Option(help: "Seconds into the output to show.")
    var at: Double = 0

    @Flag(help: "Show the original on the left and the result on the right.")
    var compare = false

    func run() throws {
        FFmpegLog.configure(verbose: false)
        try reportingFailure {
            var preview = Preview(input: input, output: output, steps: try steps.resolve())
            preview.at = at
            preview.sideBySide = compare
            let result = try preview.render()
            printError("wrote \(output): \(result.width)x\(result.height), the frame at \(result.time.fixed(3))s")
        }
    }
}
