import ArgumentParser
import FineTune
import MiniTrain
import Foundation
import Synchronization

extension LensPipe {
    struct Finetune: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "finetune",
            abstract: "Fine-tune a pre-trained backbone with labels: classify the substructure, or regress the axion mass.",
            discussion: """
            The Swin backbone of a lenspipe train checkpoint (--network teacher or student weights) plus a linear head on its mean-pooled tokens, trained with labels on SHARDS/train (AdamW, linear warm-up then cosine; the backbone at --backbone-lr-scale times the head's rate), the weights of the best SHARDS/val pass kept (--select), scored once on SHARDS/test. Images are the stored stamps resampled to the checkpoint's global view size (as eval does), under random flips and 90-degree rotations while training.

            --task classify: cross-entropy; test accuracy, macro and per-class one-vs-rest ROC AUC, confusion matrix; roc.png and confusion.png. --task regress: the samples with a target (the axion class), log10 of the target (errors in dex) standardised by train, Huber loss; test MAE, RMSE, bias and Pearson r beside the MAE of always predicting the training mean; regression.png. --from-scratch trains the same network from random init for the same budget (the baseline); --label-fraction keeps a seeded, label-stratified share of train, and the same share of val for choosing the weights.
            --curve 0.01,0.1,1 --seeds 0,1 runs both starts at every fraction and seed (same budget, subset and order) and draws the label-efficiency curve: what pre-training saves in labels.
            --minutes M measures the step first and fits the step count to M minutes.

            OUT gets finetuned.safetensors (a checkpoint embed and eval read too, plus head.weight and head.bias), report.json, metrics.jsonl and the figures. docs/evaluation.md describes the protocol.

            Examples:
              lenspipe finetune run1/final.safetensors out --task classify \\
                --label-fraction 0.1 --minutes 5 -o run1/ft-cls-10
              lenspipe finetune run1/final.safetensors out --task classify \\
                --label-fraction 0.1 --minutes 5 --from-scratch -o run1/scratch-cls-10
              lenspipe finetune run1/final.safetensors out --task classify \\
                --curve 0.01,0.1,1 --seeds 0,1 --minutes 5 -o run1/label-efficiency
              lenspipe finetune run1/final.safetensors out --task regress \\
                --epochs 20 -o run1/ft-mass --json
            """)

        @Argument(help: ArgumentHelp("A checkpoint (lenspipe train).", valueName: "checkpoint")) var checkpoint: String
        @Argument(help: ArgumentHelp("A lenspipe output with train/, val/ and test/ splits.", valueName: "shards")) var shards: String
        @Option(help: "classify (the class label) or regress (the target: the axion mass).") var task: FineTuneTask
        @Option(help: "Share of the train split used: a seeded, label-stratified subset (e.g. 0.01, 0.1, 1).") var labelFraction = 1.0
        @Option(help: "Wall-clock budget in minutes: the step count is fitted to it.") var minutes: Double?
        @Option(help: "Passes over the (sub-sampled) train split (instead of --minutes; default 10).") var epochs: Double?
        @Option(name: [.customShort("o"), .customLong("output")],
                help: ArgumentHelp("The output folder (default: finetune-TASK[-scratch][-fF] beside the checkpoint).", valueName: "dir"))
        var output: String?
        @Option(name: .customLong("out"), help: .hidden) var legacyOut: String?
        /// `-o/--output` (the CLI's convention), or the old spelling `--out`.
        var out: String? { output ?? legacyOut }
        @Flag(help: "Train the same network from random init for the same budget (the baseline).") var fromScratch = false
        @Option(help: ArgumentHelp("The label-efficiency curve: fine-tune from the checkpoint and from scratch at each of these label fractions and each --seeds, then draw OUT/label_efficiency.png and write OUT/label_efficiency.json (classify).",
                                   valueName: "fractions"))
        var curve: String?
        @Option(help: ArgumentHelp("Seeds of the curve's fine-tunes (with --curve).", valueName: "seeds")) var seeds = "0,1"
        @Option(help: "The checkpoint's teacher (DINO's choice) or student weights.") var network: NetworkChoice = .teacher

        @Option(help: "Images per step.") var batch = 32
        @Option(help: "Peak learning rate of the head (AdamW).") var lr: Float = 1e-3
        @Option(help: "The backbone's learning rate relative to the head's (default 0.1; 1 with --from-scratch; 0 freezes it).")
        var backboneLrScale: Float?
        @Option(help: "AdamW weight decay (not on biases and 1-D tensors).") var weightDecay: Float = 0.05
        @Option(help: "Linear warm-up, as a fraction of the steps.") var warmup = 0.1
        @Option(help: "Regression loss on standardised targets: huber or l2.") var loss = "huber"
        @Option(help: "Validation passes over the run (the best one's weights are kept).") var evaluations = 10
        @Option(help: "Share of the steps that train the head alone, the backbone frozen, before the whole network learns (LP-FT; 0 off, 1 a linear probe). --curve runs its scratch cells with 0.")
        var probeFirst = 0.0
        @Option(help: "Which validation pass's weights are kept: accuracy (the highest, ties by the lower cross-entropy), loss (the lowest cross-entropy), or last (no selection). Regression compares MAE unless last. docs/science.md compares them at 1% of the labels.")
        var select: FineTuneSelection = .accuracy
        @Flag(help: "Also score SHARDS/test at every validation pass, into metrics.jsonl (for studies of --select; the report's test score stays the kept weights').")
        var traceTest = false
        @Option(help: "Image side the network sees (default: the checkpoint's global view size).") var imageSize: Int?
        @Option(name: .customLong("size"), help: .hidden) var legacySize: Int?
        var size: Int? { imageSize ?? legacySize }
        @Flag(inversion: .prefixedNo, help: "Random flips and 90-degree rotations while training.") var augment = true
        @Option(help: "Seed of the head, the subset, the batch order and the augmentation.") var seed: UInt64 = 0

        @Flag(help: "No progress line.") var quiet = false
        @Flag(help: "Print the report as JSON.") var json = false
        @OptionGroup var threadOptions: ThreadOptions

        func validate() throws {
            if minutes != nil && epochs != nil { throw ValidationError("give --minutes or --epochs, not both") }
            if let m = minutes, !(m > 0 && m <= 10_080) { throw ValidationError("--minutes must be within (0, 10080] (a week)") }
            if let e = epochs, !(e > 0 && e <= 1e6) { throw ValidationError("--epochs must be within (0, 1e6]") }
            if let s = size, !(4...4096).contains(s) { throw ValidationError("--image-size must be 4...4096") }
            do { try recipe().validate() } catch { throw ValidationError("\(error)") }
            if curve != nil {
                guard let fractions = curveFractions, !fractions.isEmpty, fractions.allSatisfy({ $0 > 0 && $0 <= 1 }) else {
                    throw ValidationError("--curve takes label fractions within (0, 1], comma-separated (e.g. 0.01,0.1,1)")
                }
                guard let seeds = curveSeeds, !seeds.isEmpty else { throw ValidationError("--seeds takes seeds, comma-separated (e.g. 0,1)") }
                if task != .classify { throw ValidationError("--curve is for --task classify") }
                if fromScratch { throw ValidationError("--curve runs the from-scratch fine-tunes itself; drop --from-scratch") }
            }
        }

        var curveFractions: [Double]? { curve.map { $0.split(separator: ",").compactMap { Double($0.trimmingCharacters(in: .whitespaces)) } }
            .flatMap { $0.count == curve!.split(separator: ",").count ? $0 : nil } }
        var curveSeeds: [UInt64]? { let s = seeds.split(separator: ",").compactMap { UInt64($0.trimmingCharacters(in: .whitespaces)) }
            return s.count == seeds.split(separator: ",").count ? s : nil }

        func recipe() -> FineTuneRecipe {
            var r = FineTuneRecipe()
            r.batch = batch
            if let epochs { r.epochs = epochs }
            r.lr = lr
            r.backboneLRScale = backboneLrScale ?? (fromScratch ? 1 : 0.1)
            r.weightDecay = weightDecay
            r.warmupFraction = warmup
            r.loss = loss
            r.labelFraction = labelFraction
            r.seed = seed
            r.augment = augment
            r.evaluations = evaluations
            r.selection = select
            r.probeFirst = probeFirst
            r.traceTest = traceTest
            return r
        }

        /// `finetune-classify`, `finetune-regress-scratch-f0.1`, ... beside the checkpoint.
        var defaultOut: String {
            let dir = (checkpoint as NSString).deletingLastPathComponent
            let name = "finetune-\(task.rawValue)" + (fromScratch ? "-scratch" : "") + (labelFraction < 1 ? "-f\(labelFraction)" : "")
            return (dir.isEmpty ? "." : dir) + "/" + name
        }

        /// Runs `body` under the progress line, which is finished either way (a failed run is not a usage
        /// error: it exits 1, without the usage text).
        static func reporting<T>(_ line: StepProgressLine, _ body: () throws -> T) throws -> T {
            defer { line.finish() }
            return try body()
        }

        static func printJSON<T: Encodable>(_ value: T) throws {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
            print(String(decoding: try encoder.encode(value), as: UTF8.self))
        }

        func run() throws {
            var options = FineTuneOptions(checkpoint: checkpoint, shards: shards, out: out ?? defaultOut,
                                          task: task, recipe: recipe())
            options.minutes = minutes
            options.epochs = epochs
            options.fromScratch = fromScratch
            options.network = network
            options.size = size
            options.threads = threadOptions.threads
            let line = StepProgressLine(quiet: quiet)
            if curve != nil {
                if out == nil { options.out = ((checkpoint as NSString).deletingLastPathComponent.isEmpty ? "." : (checkpoint as NSString).deletingLastPathComponent) + "/label-efficiency" }
                let report = try Self.reporting(line) { try LabelEfficiency(base: options, fractions: curveFractions!, seeds: curveSeeds!)
                    .run(log: { line.log($0) }, progress: { p in line.show(step: p.step, of: p.totalSteps, p.line) }) }
                if json { return try Self.printJSON(report) }
                print("label fraction  train images  pre-trained acc / AUC  from scratch acc / AUC  gain acc / AUC")
                for p in report.points {
                    func pair(_ s: LabelEfficiency.Scores?) -> String { s.map { String(format: "%.4f / %.4f", $0.accuracy, $0.macroAUC) } ?? "-" }
                    print(String(format: "%-14g  %12d  %21@  %22@  %+.4f / %+.4f", p.fraction, p.trainImages, pair(p.pretrained), pair(p.scratch),
                                 p.accuracyGain ?? .nan, p.macroAUCGain ?? .nan))
                }
                for key in report.outputs.keys.sorted() { print("\(key): \(report.outputs[key]!)") }
                return
            }
            let report = try Self.reporting(line) {
                try FineTuneRun(options: options, log: { line.log($0) }, progress: { p in line.show(step: p.step, of: p.totalSteps, p.line) }).run()
            }
            if json { return try Self.printJSON(report) }
            print(String(format: "%@, %@: %d train / %d val / %d test images, %d steps (%.1f epochs) in %.0f s; kept step %d",
                         report.task.rawValue, report.initialization, report.trainImages, report.valImages, report.testImages, report.steps,
                         report.epochs, report.seconds, report.bestStep))
            let t = report.test
            if let accuracy = t.accuracy {
                print(String(format: "test accuracy %.4f, macro AUC %.4f; per class: %@", accuracy, t.macroAUC ?? .nan,
                             zip(report.classes ?? [], t.aucPerClass ?? []).map { "\($0) \($1.map { String(format: "%.3f", $0) } ?? "n/a")" }
                                 .joined(separator: ", ")))
            } else {
                let units = report.target?.units ?? ""
                print(String(format: "test MAE %.4f %@ (mean predictor %.4f), RMSE %.4f, bias %+.4f, Pearson r %.3f", t.mae ?? .nan, units,
                             t.baselineMAE ?? .nan, t.rmse ?? .nan, t.bias ?? .nan, t.pearsonR ?? .nan))
            }
            for key in report.outputs.keys.sorted() { print("\(key): \(report.outputs[key]!)") }
        }
    }
}

extension FineTuneTask: ExpressibleByArgument {}
extension FineTuneSelection: ExpressibleByArgument {}


