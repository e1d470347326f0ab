import ArgumentParser
import Foundation
import Synchronization
import Training

extension LensPipe {
    struct Train: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pre-train a compact EsViT on preprocessed shards (self-supervised, no labels needed).",
            discussion: """
            Reads the train split of a lenspipe output (SHARDS/train; SHARDS/val, when present and labelled, feeds the k-NN monitor) or any MDS folder with an image column. Every hyper-parameter lives in one recipe (JSON): --print-recipe shows the defaults, --recipe FILE changes the fields it lists; the model flags below override the recipe's model.

            --minutes M measures the step time first and fits the whole schedule (warm-up, cosine decays) into M minutes; --epochs E runs E passes. The run folder gets recipe.json, run.json, checkpoint.safetensors (every N steps or minutes, atomic), final.safetensors, metrics.jsonl (loss parts, schedules, per-head teacher entropy, feature spread, k-NN) and curves.png. A killed run continues bit for bit with --resume. docs/training.md explains the metrics and what a collapse looks like.

            Examples:
              lenspipe preprocess data/model2 -o out --keep-splits
              lenspipe train out -o run1 --minutes 10
              lenspipe train out -o run1 --resume
              lenspipe train --print-recipe > recipe.json
            """)

        @Argument(help: ArgumentHelp("A lenspipe output (with train/ and val/) or an MDS folder.", valueName: "shards"))
        var shards: String?

        @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("The run folder.", valueName: "run"))
        var output: String?
        @Option(name: .customLong("out"), help: .hidden) var legacyOut: String?
        /// `-o/--output` (the CLI's convention), or the old spelling `--out`.
        var out: String? { output ?? legacyOut }

        @Option(help: "Wall-clock budget in minutes: the step count is fitted to it.")
        var minutes: Double?

        @Option(help: "Passes over the train split (instead of --minutes; default: the recipe's epochs).")
        var epochs: Double?

        @Option(help: ArgumentHelp("A training recipe (JSON); unlisted fields keep their defaults.", valueName: "recipe.json"))
        var recipe: String?

        @Flag(help: "Continue the run in --output from its last checkpoint.")
        var resume = false

        @Flag(help: "Print the resolved recipe (defaults, then --recipe, then the flags) as JSON and exit.")
        var printRecipe = false

        @Option(help: "Images per step (overrides the recipe).") var batch: Int?
        @Option(help: "Seed of initialisation, shuffling and views (overrides the recipe).") var seed: UInt64?
        @Option(help: "Embedding dimension of the first stage.") var dim: Int?
        @Option(help: "Blocks per stage, comma-separated.") var depths: IntList?
        @Option(help: "Attention heads per stage, comma-separated.") var heads: IntList?
        @Option(help: "Window side.") var window: Int?
        @Option(help: "Patch size.") var patch: Int?
        @Option(help: "MLP hidden ratio.") var mlpRatio: Int?
        @Option(help: "Head output dimension K.") var outDim: Int?

        @Flag(help: "No progress line.") var quiet = false
        @Flag(help: "Print the summary as JSON.") var json = false
        @OptionGroup var threadOptions: ThreadOptions

        func validate() throws {
            if printRecipe { return }
            guard shards != nil else { throw ValidationError("missing SHARDS (a lenspipe output or an MDS folder)") }
            guard out != nil else { throw ValidationError("missing -o/--output RUN (the run folder)") }
            if minutes != nil && epochs != nil { throw ValidationError("give --minutes or --epochs, not both") }
            if let m = minutes, !(m > 0 && m <= 10_080) { throw ValidationError("--minutes must be within (0, 10080] (a week)") }
            if let e = epochs, !(e > 0 && e <= 1e6) { throw ValidationError("--epochs must be within (0, 1e6]") }
            if resume && (recipe != nil || minutes != nil || epochs != nil) {
                throw ValidationError("--resume continues the run as it was started: drop --recipe, --minutes and --epochs")
            }
        }

        /// Defaults, then the file, then the flags.
        func resolvedRecipe() throws -> TrainRecipe {
            var r = TrainRecipe()
            if let recipe {
                do { r = try TrainRecipe.load(path: recipe) } catch { throw ValidationError("\(error)") }
            }
            if let batch { r.batch = batch }
            if let seed { r.seed = seed }
            if let dim { r.model.dim = dim }
            if let depths { r.model.depths = depths.values }
            if let heads { r.model.heads = heads.values }
            if let window { r.model.window = window }
            if let patch { r.model.patch = patch }
            if let mlpRatio { r.model.mlpRatio = mlpRatio }
            if let outDim { r.model.outDim = outDim }
            return r
        }

        func run() throws {
            let recipe = try resolvedRecipe()
            if printRecipe {
                print(String(decoding: try recipe.json(), as: UTF8.self))
                return
            }
            let line = StepProgressLine(quiet: quiet)
            let run = TrainingRun(options: TrainOptions(shards: shards!, run: out!, recipe: recipe, minutes: minutes, epochs: epochs,
                                                        resume: resume, threads: threadOptions.threads),
                                  log: { line.log($0, evenIfQuiet: $0.contains("collapse")) },
                                  progress: { p in line.show(step: p.step, of: p.totalSteps, p.line) })
            let summary: TrainSummary
            // A failure of the run (NaN, a budget too short, bad data) is not a usage error: exit 1, no usage text.
            do { summary = try run.run() } catch { line.finish(); throw error }
            line.finish()
            let result: [String: Any] = [
                "run": summary.run.path, "steps": summary.steps, "steps_run": summary.stepsRun, "seconds": summary.seconds,
                "images_per_s": summary.imagesPerSecond, "data_wait": summary.dataWaitShare, "final_loss": summary.finalLoss ?? NSNull(),
                "knn_accuracy": summary.knnAccuracy ?? NSNull(), "collapse": summary.collapses,
                "checkpoint": summary.run.final, "metrics": summary.run.metrics, "curves": summary.run.curves,
            ]
            if json {
                print(String(decoding: try JSONSerialization.data(withJSONObject: result, options: [.sortedKeys]), as: UTF8.self))
            } else {
                print(String(format: "trained %d steps in %.0f s (%.1f images/s, %.1f%% waiting for views); final loss %.4f",
                             summary.stepsRun, summary.seconds, summary.imagesPerSecond, 100 * summary.dataWaitShare, summary.finalLoss ?? .nan))
                if let knn = summary.knnAccuracy { print(String(format: "k-NN accuracy (val vs train, teacher features): %.4f", knn)) }
                if !summary.collapses.isEmpty { print("collapse warnings: \(summary.collapses.joined(separator: ", ")) (see docs/training.md)") }
                print("checkpoint: \(summary.run.final)\nmetrics: \(summary.run.metrics)\ncurves: \(summary.run.curves)")
            }
        }
    }
}

/// A comma-separated list of integers (`--depths 2,2,6`).
struct IntList: ExpressibleByArgument, Sendable {
    var values: [Int]
    var defaultValueDescription: String { values.map(String.init).joined(separator: ",") }
    init?(argument: String) {
        let parts = argument.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard !parts.isEmpty, parts.allSatisfy({ $0 != nil && $0! > 0 }) else { return nil }
        values = parts.map { $0! }
    }
}

