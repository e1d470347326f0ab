import ArgumentParser
import Evaluation
import Foundation
import MiniTrain
import ShardWriter

extension LensPipe {
    struct Embed: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Pooled backbone features of a checkpoint for one split of shards, as .npy.",
            discussion: """
            Writes FEATURES ([N, D] float32, in shard order) and, beside it, labels.npy (int64, -1 when unknown), targets.npy (float64, NaN when absent) and ids.txt (line i is sample i's id, with \\, \\n and \\r escaped). Those three are not replaced if the folder has them (--overwrite). Inference only, batched, on --threads cores; whole images resampled to the checkpoint's global view size.

            Example:
              lenspipe embed run1/final.safetensors out/test -o feats/test/features.npy --l2
            """)

        @Argument(help: ArgumentHelp("A checkpoint (lenspipe train).", valueName: "checkpoint")) var checkpoint: String
        @Argument(help: ArgumentHelp("An MDS folder (one split).", valueName: "split")) var split: String
        @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("The features file.", valueName: "features.npy"))
        var output: String
        @Option(help: "teacher (DINO's choice) or student.") var network: NetworkChoice = .teacher
        @Flag(help: "L2-normalise each feature vector.") var l2 = false
        @Flag(help: "Replace labels.npy, targets.npy and ids.txt if the output folder has them already.") var overwrite = false
        @Flag(help: "Print what was written as JSON.") var json = false
        @Flag(help: "No progress line.") var quiet = false
        @OptionGroup var threadOptions: ThreadOptions

        func run() throws {
            let images = try LabelledSplit(folder: split)
            let (trainer, size) = try FrozenEvaluation.open(checkpoint: checkpoint, shards: split, channels: images.channels)
            let meter = ProgressMeter("embed", total: images.ids.count, quiet: quiet)
            let arena = network.arena(of: trainer)
            BLAS.setThreads(1)
            let embedded = KernelThreads.$count.withValue(threadOptions.threads) {
                EmbeddedSplit(images, network: trainer.network, arena: arena, size: size) { meter.update($0) }
            }
            meter.finish()
            try embedded.write(features: output, normalized: l2, overwrite: overwrite)
            if json {
                let dir = (output as NSString).deletingLastPathComponent
                let files = ["labels.npy", "targets.npy", "ids.txt"].map { dir.isEmpty ? $0 : dir + "/" + $0 }
                let summary: [String: Any] = ["features": output, "count": embedded.count, "dimension": embedded.dimension,
                                              "network": network.rawValue, "l2_normalized": l2, "files": files]
                let data = try JSONSerialization.data(withJSONObject: summary, options: [.sortedKeys])
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("wrote \(output): [\(embedded.count), \(embedded.dimension)] \(network.rawValue) features\(l2 ? " (L2-normalised)" : ""), with labels.npy, targets.npy, ids.txt")
        }
    }

    struct Eval: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "k-NN and linear probe of a checkpoint's frozen features, beside random-init and raw-pixel baselines.",
            discussion: """
            Three rows on the same images: the checkpoint's features, a randomly initialised network of the same shape, and the raw pixels. Each is scored by k-NN (cosine on L2-normalised features, k neighbours, exp(sim/T) weighted vote, as DINO's eval_knn.py), by the same k-NN on features centred by the train features' mean ("centred k-NN", SimpleShot's CL2N: what differs between images, when all of them share a large common part) and by a linear probe (multinomial logistic regression on standardised features; C chosen on a stratified 20% of train, never on test). The probe reads EsViT's linear-probe features, the pooled outputs of the last 4 blocks side by side (--probe-blocks); the k-NN reads the final pooled feature. Test accuracy, macro one-vs-rest ROC AUC, per-class AUC and the probe's confusion matrix; -o DIR also draws roc.png and confusion.png for the trained row. docs/evaluation.md describes the protocol.

            Example:
              lenspipe eval run1/final.safetensors --train out/train --test out/test \\
                -o run1/eval --json
            """)

        @Argument(help: ArgumentHelp("A checkpoint (lenspipe train).", valueName: "checkpoint")) var checkpoint: String
        @Option(help: ArgumentHelp("The labelled split the k-NN and the probe learn from.", valueName: "shards/train")) var train: String
        @Option(help: ArgumentHelp("The labelled split they are scored on.", valueName: "shards/test")) var test: String
        @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("A folder for report.json, roc.png, confusion.png.", valueName: "dir"))
        var output: String?
        @Option(help: "teacher (DINO's choice) or student.") var network: NetworkChoice = .teacher
        @Option(help: "Neighbours of the k-NN.") var k = 20
        @Option(help: "Temperature of the k-NN vote.") var temperature = 0.07
        @Option(help: ArgumentHelp("Pool the final tokens this way instead of as the checkpoint was trained: mean, or foreground (weighted by each token's lens light; docs/science.md).",
                                   valueName: "mean|foreground"))
        var pooling: TokenPooling?
        @Option(help: ArgumentHelp("The probe reads the pooled outputs of this many last blocks side by side (EsViT's --n_last_blocks; default 4, or every block of a smaller network; 1: the final pooled feature alone, which the k-NN always reads).",
                                   valueName: "n"))
        var probeBlocks: Int?
        @Flag(help: "Only the checkpoint's row (no random-init and raw-pixel baselines).") var noBaselines = false
        @Flag(help: "Print the report as JSON.") var json = false
        @Flag(help: "No progress messages.") var quiet = false
        @OptionGroup var threadOptions: ThreadOptions

        func validate() throws {
            guard k >= 1 else { throw ValidationError("--k must be at least 1") }
            guard temperature > 0 else { throw ValidationError("--temperature must be positive") }
            guard (probeBlocks ?? 1) >= 1 else { throw ValidationError("--probe-blocks must be at least 1") }
        }

        func run() throws {
            var options = FrozenEvaluation.Options(checkpoint: checkpoint, train: train, test: test)
            options.network = network
            options.k = k
            options.temperature = temperature
            options.baselines = !noBaselines
            options.figures = output
            options.pooling = pooling
            options.probeBlocks = probeBlocks
            let quiet = self.quiet
            BLAS.setThreads(1)
            let report = try KernelThreads.$count.withValue(threadOptions.threads) {
                try FrozenEvaluation(options: options, log: { if !quiet { FileHandle.standardError.write(Data(($0 + "\n").utf8)) } }).run()
            }
            let data = try report.json()
            if let output { try report.write(toFolder: output) }
            if json {
                print(String(decoding: data, as: UTF8.self))
                return
            }
            print("test: \(report.testImages) images, train: \(report.trainImages); classes \(report.classes.joined(separator: ", "))")
            print("features             dim   k-NN acc  k-NN AUC  centred k-NN acc  probe dim  probe acc  probe AUC  per-class probe AUC")
            for r in report.rows {
                let name = r.features.padding(toLength: max(20, r.features.count), withPad: " ", startingAt: 0)
                print(name + String(format: " %4d   %.4f    %.4f    %.4f            %5d      %.4f     %.4f     %@", r.dimension, r.knnAccuracy,
                             r.knnMacroAUC, r.knnCentredAccuracy, r.probeDimension, r.probeAccuracy, r.probeMacroAUC, r.probePerClassAUC.map { String(format: "%.3f", $0) }.joined(separator: " ")))
            }
            if let output { print("report: \(output)/report.json, figures: \(output)/roc.png, \(output)/confusion.png") }
        }
    }
}

extension TokenPooling: ExpressibleByArgument {}

/// Which network of a checkpoint.
extension NetworkChoice: ExpressibleByArgument {}
