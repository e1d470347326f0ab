import ArgumentParser
import Foundation
import LensData
import LensSynth
import Render

extension LensPipe {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the pipeline on lenses lenspipe simulates itself: synthesize, then inspect.",
            discussion: """
            Writes OUT/data (a DeepLense-like class-folder tree, axion files pickled as numpy does),
            prints the inspect report and writes OUT/sheet.png, a contact sheet to look at.
            Later stages (crop, shards, training) join this command as they land.
            """)

        @Option(help: "Output folder.")
        var out = "lenspipe-demo"

        @Option(help: "Number of images.")
        var count = 300

        @Option(help: "Image side: 150 or 64.")
        var size = 150

        @Option(help: "Random seed.")
        var seed: UInt64 = 0

        @OptionGroup var threadOptions: ThreadOptions

        func validate() throws {
            guard size == 64 || size == 150 else { throw ValidationError("--size must be 64 or 150") }
            guard count >= 3 else { throw ValidationError("--count must be at least 3 (one per class)") }
        }

        func run() throws {
            let data = out + "/data"
            let start = Date()
            let meter = ProgressMeter("synth", total: count)
            try SynthWriter.write(config: SynthConfig(size: size, seed: seed, lensOffset: Double(size) / 10), count: count,
                                  format: .tree, to: data, threads: threadOptions.threads) { meter.update($0) }
            meter.finish()
            print(String(format: "1. synthesized %d lenses into %@ (%.1f s)", count, data, Date().timeIntervalSince(start)))
            let source = try NPYFolderSource(root: data)
            let report = SourceScan.run(source, threads: threadOptions.threads)
            print("2. inspect \(data):")
            print(InspectText.render(report).split(separator: "\n").map { "   " + $0 }.joined(separator: "\n"))
            let (sheet, rows) = ContactSheet.make(source: source, perClass: 6)
            try sheet.writePNG(path: out + "/sheet.png")
            print("3. contact sheet: \(out)/sheet.png (rows: \(rows.joined(separator: ", ")))")
            if !report.errors.isEmpty { throw ExitCode(1) }
        }
    }
}
