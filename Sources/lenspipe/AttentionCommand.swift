import ArgumentParser
import Evaluation
import Foundation
import MiniTrain

extension LensPipe {
    struct Attention: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What a checkpoint's last stage attends to: attention maps over images and the lens-attention ratio.",
            discussion: """
            Measures --count images, evenly spaced through INPUT (so every class is in): the last stage's self-attention per head, averaged over the query tokens and for the brightest token, the similarity of each output token to the pooled feature, and the image's lens mask. The lens-attention ratio is the attention mass on the lens divided by the lens's share of the area: 1 means no preference for the lens, 2 means twice the attention a uniform map would put there. INPUT is shards (images as the network saw them; the foreground column gives the lens) or any source (cropped and normalised as `preprocess` does by default).

            Writes three figures, laid out for a 1200 px page: FIGURE (--rows images: stamp, lens mask, heads' mean attention, brightest token's, similarity), FIGURE_heads.png (each head) and FIGURE_classes.png (per class: the maps averaged over its images, each centred on its lens, and the difference to the other classes), and a JSON report with the ratios per image, per head and per class (mean and standard deviation). When the checkpoint's run folder holds middle.safetensors (runs since this version), the report adds the ratio at the start (random init), the middle and the end of the run. docs/evaluation.md explains each panel.

            Examples:
              lenspipe attention run1/final.safetensors out/test -o attention.png
              lenspipe attention run1/final.safetensors data/model2/test --count 300 --json
            """)

        @Argument(help: ArgumentHelp("A checkpoint (lenspipe train or finetune).", valueName: "checkpoint")) var checkpoint: String
        @Argument(help: ArgumentHelp("Shards (an MDS folder) or a source.", valueName: "input")) var input: String
        @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("The figure.", valueName: "attention.png"))
        var output = "attention.png"
        @Option(help: "Images measured (per image, per head and per class).") var count = 150
        @Option(help: "Images drawn, one row each.") var rows = 6
        @Option(help: "teacher (DINO's choice) or student.") var network: NetworkChoice = .teacher
        @Option(help: ArgumentHelp("Also write the report here (default: beside the figure, as .json).", valueName: "report.json"))
        var report: String?
        @Flag(help: "Print the report as JSON.") var json = false
        @Flag(help: "No progress line.") var quiet = false
        @OptionGroup var threadOptions: ThreadOptions

        func validate() throws {
            guard (1...100_000).contains(count) else { throw ValidationError("--count must be 1...100000") }
            guard (1...64).contains(rows) else { throw ValidationError("--rows must be 1...64") }
        }

        func run() throws {
            BLAS.setThreads(1)
            let meter = ProgressMeter("attention", total: count, quiet: quiet)
            let result = try KernelThreads.$count.withValue(threadOptions.threads) {
                try AttentionStudy.run(checkpoint: checkpoint, input: input, count: count, drawn: rows, network: network, figure: output) { meter.update($0) }
            }
            meter.finish()
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let data = try encoder.encode(result)
            let reportPath = report ?? (output.hasSuffix(".png") ? String(output.dropLast(4)) : output) + ".json"
            try data.write(to: URL(fileURLWithPath: reportPath), options: .atomic)
            if json {
                print(String(decoding: data, as: UTF8.self))
            } else {
                func fmt(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "n/a" }
                print("\(result.images.count) images, \(result.grid)x\(result.grid) tokens, \(result.heads) heads (\(result.network.rawValue))")
                print("lens-attention ratio (1 = no preference): mean \(fmt(result.meanRatio)), median \(fmt(result.medianRatio)), brightest-token \(fmt(result.meanRatioBrightest))")
                print("per head: " + result.meanRatioPerHead.map(fmt).joined(separator: " "))
                if result.imagesWithoutForeground > 0 { print("\(result.imagesWithoutForeground) images without foreground (no ratio)") }
                for c in result.classes {
                    print("class \(c.label) (\(c.images) images): ratio \(fmt(c.ratioMean)) ± \(fmt(c.ratioStd)); per head " + c.ratioPerHeadMean.map(fmt).joined(separator: " "))
                }
                for p in result.overTraining { print("\(p.stage), step \(p.step): mean ratio \(fmt(p.meanRatio))") }
                print("figures: " + ([output] + [result.headsFigure, result.classesFigure].compactMap { $0 }).joined(separator: ", ") + "; report: \(reportPath)")
            }
        }
    }
}
