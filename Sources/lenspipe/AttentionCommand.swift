import ArgumentParser
import Evaluation
import Foundation
import MiniTrain

extension LensPipe {
    struct Attention: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "What a checkpoint's last stage attends to: attention maps over images and the lens-attention ratio.",
            discussion: """
            For each of the first --count images: the last stage's self-attention per head, averaged over
            the query tokens and for the brightest token, the similarity of each output token to the pooled
            feature, and the image's lens mask, each overlaid on the image (dark = low, yellow = high).
            The lens-attention ratio is the attention mass on the lens divided by the lens's share of the
            area: 1 means no preference for the lens, 2 means twice the attention a uniform map would put
            there. INPUT is shards (images as the network saw them; the foreground column gives the lens)
            or any source (cropped and normalised as `preprocess` does by default).

            Examples:
              lenspipe attention run1/final.safetensors out/test -o attention.png
              lenspipe attention run1/final.safetensors data/model2/test --count 12 --json
            """)

        @Argument(help: ArgumentHelp("A checkpoint (lenspipe train or finetune).", valueName: "checkpoint")) var checkpoint: String
        @Argument(help: ArgumentHelp("Shards (an MDS folder) or a source.", valueName: "input")) var input: String
        @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("The figure.", valueName: "attention.png"))
        var output = "attention.png"
        @Option(help: "Images drawn and measured.") var count = 8
        @Option(help: "teacher (DINO's choice) or student.") var network: NetworkChoice = .teacher
        @Option(help: ArgumentHelp("Also write the report here (default: beside the figure, as .json).", valueName: "report.json"))
        var report: String?
        @Flag(help: "Print the report as JSON.") var json = false
        @Flag(help: "No progress line.") var quiet = false
        @OptionGroup var threadOptions: ThreadOptions

        func validate() throws {
            guard count > 0 else { throw ValidationError("--count must be positive") }
        }

        func run() throws {
            BLAS.setThreads(1)
            let meter = ProgressMeter("attention", total: count, quiet: quiet)
            let result = try KernelThreads.$count.withValue(threadOptions.threads) {
                try AttentionStudy.run(checkpoint: checkpoint, input: input, count: count, network: network.rawValue, figure: output) { meter.update($0) }
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
                print("\(result.images.count) images, \(result.grid)x\(result.grid) tokens, \(result.heads) heads (\(result.network))")
                print("lens-attention ratio (1 = no preference): mean \(fmt(result.meanRatio)), median \(fmt(result.medianRatio)), brightest-token \(fmt(result.meanRatioBrightest))")
                print("per head: " + result.meanRatioPerHead.map(fmt).joined(separator: " "))
                if result.imagesWithoutForeground > 0 { print("\(result.imagesWithoutForeground) images without foreground (no ratio)") }
                print("figure: \(output), report: \(reportPath)")
            }
        }
    }
}
