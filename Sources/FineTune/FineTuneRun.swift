import Evaluation
import FeatureMetrics
import Foundation
import LensData
import MiniTrain
import Render
import ShardWriter

/// `lenspipe finetune`: a pre-trained backbone (or the same network from random init, the baseline)
/// plus a linear head, trained with labels on `SHARDS/train`, the best weights chosen on `SHARDS/val`,
/// scored once on `SHARDS/test`.
///
///     let run = FineTuneRun(options: FineTuneOptions(checkpoint: "run1/final.safetensors", shards: "out", out: "ft", task: .classify))
///     let report = try run.run()   // ft/{finetuned.safetensors, report.json, metrics.jsonl, roc.png, confusion.png}
///
/// One step: a batch of the (sub-sampled) training set in a seeded per-epoch order, each image under
/// a random symmetry of the square, the schedule's learning rate, `FineTuneTrainer`'s step. Validation
/// runs `recipe.evaluations` times, evenly spaced; the weights of the best pass are kept.
public final class FineTuneRun {
    public let options: FineTuneOptions
    let log: @Sendable (String) -> Void
    let progress: @Sendable (StepProgress) -> Void

    public init(options: FineTuneOptions, log: @escaping @Sendable (String) -> Void = { _ in },
                progress: @escaping @Sendable (StepProgress) -> Void = { _ in }) {
        self.options = options
        self.log = log
        self.progress = progress
    }

    /// What the run writes in its folder.
    public struct Folder: Sendable {
        public let path: String
        public init(path: String) { self.path = path }
        public var checkpoint: String { path + "/finetuned.safetensors" }
        public var report: String { path + "/report.json" }
        public var metrics: String { path + "/metrics.jsonl" }
        public var roc: String { path + "/roc.png" }
        public var confusion: String { path + "/confusion.png" }
        public var regression: String { path + "/regression.png" }
    }

    public func run() throws -> FineTuneReport {
        BLAS.setThreads(1)  // MiniTrain splits matrix products over its own threads
        KernelThreads.keepFreedMemory()
        return try KernelThreads.$count.withValue(max(1, options.threads)) { try runOnKernelThreads() }
    }

    /// The data of a run, read and checked.
    struct RunData {
        var train: LabelledSplit, val: LabelledSplit, test: LabelledSplit
        var classes: [String]
        var target: TargetScale?
        var outputs: Int
    }

    private func runOnKernelThreads() throws -> FineTuneReport {
        let start = Date()
        let recipe = options.recipe
        try recipe.validate()
        let task = options.task
        let source = try Checkpoint.load(from: options.checkpoint)
        let sourceMeta = try Checkpoint.metadata(at: options.checkpoint)
        for split in ["train", "val", "test"] {
            try DataNormalization.check(metadata: sourceMeta, checkpoint: options.checkpoint, shards: options.shards + "/" + split)
        }
        let config = source.config
        let size = try options.size ?? FrozenEvaluation.globalSize(checkpoint: options.checkpoint)
        do { try config.validate(cropSize: size) } catch {
            throw FineTuneError("input size \(size) does not fit the checkpoint's backbone: \(error) (choose another --size)")
        }
        let data = try readData(config: config)
        log("\(task.rawValue): \(data.train.count) train (label fraction \(recipe.labelFraction)), \(data.val.count) val, \(data.test.count) test images at \(size) px")

        let trainer = FineTuneTrainer(config: config, task: task, outputs: data.outputs)
        let initArena = options.network.arena(of: source)
        trainer.initialize(backbone: options.fromScratch ? nil : initArena, seed: recipe.seed)
        configure(trainer)
        let B = min(recipe.batch, data.train.count)
        let stepsPerEpoch = max(1, data.train.count / B)
        var measured: Double?
        var totalSteps: Int
        if let minutes = options.minutes {
            let fit = try fitSteps(minutes: minutes, config: config, data: data, size: size, batch: B, initArena: options.fromScratch ? nil : initArena,
                                   elapsed: Date().timeIntervalSince(start))
            (totalSteps, measured) = (fit.steps, fit.stepSeconds)
            log(String(format: "budget %.1f min: %.3f s per step measured -> %d steps (%.2f epochs)", minutes, fit.stepSeconds, fit.steps,
                       Double(fit.steps) / Double(stepsPerEpoch)))
        } else {
            totalSteps = max(1, Int((Double(stepsPerEpoch) * (options.epochs ?? recipe.epochs)).rounded()))
        }
        var evalEvery = max(1, Int((Double(totalSteps) / Double(recipe.evaluations)).rounded(.up)))
        let budget = options.minutes.map { StepBudget(minutes: $0, start: start, plannedSteps: totalSteps) }
        var valSeconds = 0.0

        let folder = Folder(path: options.out)
        try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
        let metrics = try MetricsLog(path: folder.metrics)
        defer { metrics.close() }
        var best: (scores: Scores, step: Int, weights: [Float])?
        var order: [Int] = []
        let loopStart = Date()
        var lineStart = Date(), stepsSinceLine = 0
        var step = 0
        while step < totalSteps {
            defer { step += 1 }
            let (epoch, position) = (step / stepsPerEpoch, step % stepsPerEpoch)
            if position == 0 { order = Self.epochOrder(count: data.train.count, seed: recipe.seed, epoch: epoch) }
            let picks = Array(order[(position * B)..<((position + 1) * B)])
            let (images, truth) = batch(data, picks: picks, epoch: epoch, size: size)
            let lr = recipe.learningRate(step: step, total: totalSteps)
            trainer.optimizer.lr = lr
            trainer.backboneLRScale = recipe.backboneScale(step: step, total: totalSteps)
            let loss = trainer.train(images: images, batch: B, size: size, truth: truth)
            guard loss.isFinite, trainer.allFinite else {
                throw FineTuneError("step \(step + 1): the \(loss.isFinite ? "weights" : "loss") became \(loss.isNaN ? "NaN" : "infinite"); lower --lr")
            }
            let done = step + 1
            stepsSinceLine += 1
            let elapsed = Date().timeIntervalSince(loopStart)
            let rate = Double(done * B) / max(elapsed, 1e-9)
            if done % recipe.metricsEvery == 0 || done == totalSteps {
                metrics.append(["step": done, "epoch": Double(done) / Double(stepsPerEpoch), "loss": loss, "lr": Double(lr),
                                "images_per_s": Double(stepsSinceLine * B) / max(Date().timeIntervalSince(lineStart), 1e-9),
                                "elapsed_s": Date().timeIntervalSince(start)])
                (lineStart, stepsSinceLine) = (Date(), 0)
            }
            // The budget is refitted as the run goes (`StepBudget`); the test pass, figures and checkpoint follow the last step.
            if let total = budget?.refit(done: done, loopStart: loopStart, total: totalSteps,
                                         tail: valSeconds * Double(data.test.count) / Double(max(1, data.val.count)) + 1), total != totalSteps {
                totalSteps = total
                evalEvery = max(1, Int((Double(totalSteps) / Double(recipe.evaluations)).rounded(.up)))
            }
            if done % evalEvery == 0 || done == totalSteps {
                let valStart = Date()
                let scores = score(trainer, data.val, data: data, size: size).scores
                valSeconds = Date().timeIntervalSince(valStart)
                let improved = scores.better(than: best?.scores, by: recipe.selection)
                if improved { best = (scores, done, trainer.snapshot()) }
                metrics.append(Self.record(step: done, split: "val", scores, best: improved))
                log("step \(done): val " + Self.summary(scores) + (improved && recipe.selection != .last ? " (best so far)" : ""))
                if recipe.traceTest {
                    metrics.append(Self.record(step: done, split: "test_trace", score(trainer, data.test, data: data, size: size).scores, best: improved))
                }
            }
            progress(StepProgress(step: done, totalSteps: totalSteps, epoch: epoch, loss: loss, lr: Double(lr), imagesPerSecond: rate, batch: B,
                                  best: best.map { (selectionValue($0.scores), $0.step) }))
        }
        guard let kept = best else { throw FineTuneError("no validation pass ran") }
        trainer.restore(kept.weights)
        let (testScores, testPredictions) = score(trainer, data.test, data: data, size: size)
        if let bad = testPredictions.firstIndex(where: { !$0.isFinite }) {
            throw FineTuneError("test image \(bad / max(1, testPredictions.count / max(1, data.test.count))): the network's output is not finite; no report is written (lower --lr, or check the data)")
        }
        metrics.append(Self.record(step: kept.step, split: "test", testScores, best: true))
        log("test (weights of step \(kept.step)): " + Self.summary(testScores))

        var outputs = ["checkpoint": folder.checkpoint, "report": folder.report, "metrics": folder.metrics]
        switch task {
        case .classify:
            let report = ClassificationReport(labels: data.test.labels.map { $0! }, scores: testPredictions, classCount: data.outputs)
            let paths = try ClassificationFigures.write(report, classNames: data.classes,
                                                        subject: "Fine-tuned\(options.fromScratch ? " from scratch" : ""), test set", to: folder.path)
            (outputs["roc"], outputs["confusion"]) = (paths.roc, paths.confusion)
        case .regress:
            let scale = data.target!
            let truth = data.test.targets.map { scale.transformed($0!) }
            let what = scale.transform == "log10" ? "log10 target" : "target"
            try ScatterChart(title: String(format: "Fine-tuned%@, test set (MAE %.3f %@)", options.fromScratch ? " from scratch" : "",
                                           testScores.mae ?? .nan, scale.units),
                             xLabel: "true \(what)", yLabel: "predicted \(what)",
                             series: [ChartSeries(label: "test (\(truth.count))", x: truth, y: testPredictions.map(Double.init))])
                .writePNG(path: folder.regression)
            outputs["regression"] = folder.regression
        }
        let dino = options.fromScratch ? Self.randomDINO(config, seed: recipe.seed) : source
        try FineTuneCheckpoint.save(trainer, dino: dino, arena: options.fromScratch ? dino.student : initArena, to: folder.checkpoint,
                                    metadata: try checkpointMetadata(data: data, size: size, bestStep: kept.step, sourceMeta: sourceMeta))
        let report = FineTuneReport(
            task: task, checkpoint: options.checkpoint, shards: options.shards, initialization: initialization, inputSize: size,
            labelFraction: recipe.labelFraction, trainImages: data.train.count, valImages: data.val.count, testImages: data.test.count,
            classes: task == .classify ? data.classes : nil, target: data.target, steps: totalSteps, epochs: Double(totalSteps) / Double(stepsPerEpoch),
            batch: B, minutes: options.minutes, measuredStepSeconds: measured, seconds: Date().timeIntervalSince(start), bestStep: kept.step,
            val: kept.scores, test: testScores, recipe: recipe, outputs: outputs)
        try AtomicFile.write(path: folder.report, parts: [Array(try Self.encoder.encode(report))])
        return report
    }

    var initialization: String { options.fromScratch ? "random init (from scratch)" : "pretrained (\(options.network))" }

    static let encoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return e
    }()

    /// The optimizer settings of the recipe.
    func configure(_ trainer: FineTuneTrainer) {
        trainer.optimizer = options.recipe.optimizer
        trainer.backboneLRScale = options.recipe.backboneLRScale
        trainer.regressionLoss = options.recipe.regressionLoss
    }

    /// Reads and checks the three splits, sub-samples train, fixes the classes or the target scale.
    func readData(config: EsViTConfig) throws -> RunData {
        let task = options.task, recipe = options.recipe
        let catalogs = try ["train", "val", "test"].map { try LabelledSplit.Catalog(folder: options.shards + "/" + $0) }
        for c in catalogs where c.channels != config.inChannels {
            throw FineTuneError("\(c.folder): images have \(c.channels) channel\(c.channels == 1 ? "" : "s"), the checkpoint's backbone takes "
                                + "\(config.inChannels) (patch_embed.proj); fine-tune a checkpoint pre-trained on these shards")
        }
        let usable = try catalogs.map { try $0.usable(for: task) }
        // Strata of train and val: the class, or the decile of the (transformed) target.
        var groups: [[Int]] = []
        var target: TargetScale?
        switch task {
        case .classify:
            groups = (0..<2).map { s in usable[s].map { catalogs[s].labels[$0]! } }
        case .regress:
            let all = (0..<3).flatMap { s in usable[s].map { catalogs[s].targets[$0]! } }
            let transform = TargetScale.transform(for: all)
            groups = (0..<2).map { s in LabelledSplit.quantileBins(usable[s].map { TargetScale.apply(transform, catalogs[s].targets[$0]!) }) }
            target = TargetScale(transform: transform, mean: 0, std: 1)
        }
        // The label fraction applies to val as well: a user with 1% of the labels has no more to choose
        // the weights with (a seeded, stratified subset of its own).
        let picked = LabelledSplit.stratifiedSubsample(groups: groups[0], fraction: recipe.labelFraction, seed: recipe.seed).map { usable[0][$0] }
        let valPicked = LabelledSplit.stratifiedSubsample(groups: groups[1], fraction: recipe.labelFraction, seed: recipe.seed &+ 0x7A1)
            .map { usable[1][$0] }
        let train = try LabelledSplit(catalogs[0], indices: picked)
        let val = try LabelledSplit(catalogs[1], indices: valPicked), test = try LabelledSplit(catalogs[2], indices: usable[2])
        var classes: [String] = [], outputs = 1
        if task == .classify {
            let maxLabel = (train.labels + val.labels + test.labels).compactMap { $0 }.max() ?? 0
            let names = catalogs[0].classes
            outputs = max(names.count, maxLabel + 1)
            guard outputs >= 2 else { throw FineTuneError("\(catalogs[0].folder): only one class; classification needs two or more") }
            classes = (0..<outputs).map { $0 < names.count ? names[$0] : "class \($0)" }
        } else {
            // Standardised with the training subset actually used.
            target = TargetScale(transform: target!.transform, train: train.targets.map { $0! })
        }
        return RunData(train: train, val: val, test: test, classes: classes, target: target, outputs: outputs)
    }

    /// The images `[B, C, S, S]` of `picks` (positions in the training set) and what they should predict.
    func batch(_ data: RunData, picks: [Int], epoch: Int, size: Int) -> ([Float], FineTuneTrainer.Truth) {
        let recipe = options.recipe
        let symmetries = recipe.augment ? picks.map { DihedralAugment.draw(seed: recipe.seed, epoch: epoch, sample: data.train.indices[$0]) } : nil
        let images = DihedralAugment.batch(picks.map { data.train.images[$0] }, size: size, symmetries: symmetries)
        switch options.task {
        case .classify: return (images, .labels(picks.map { data.train.labels[$0]! }))
        case .regress: return (images, .values(picks.map { data.target!.standardized(data.train.targets[$0]!) }))
        }
    }

    /// A seeded permutation of `0..<count` for one epoch.
    static func epochOrder(count: Int, seed: UInt64, epoch: Int) -> [Int] {
        var rng = SplitMix64(seed: seed &+ 0x0E90_C4 &* UInt64(epoch + 1))
        var order = Array(0..<count)
        order.seededShuffle(using: &rng)
        return order
    }

    /// The head's outputs `[N, K]` for whole images, batched, no augmentation.
    static func outputs(_ trainer: FineTuneTrainer, _ images: [LensImage], size: Int, batch: Int = 64) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(images.count * trainer.outputs)
        for first in stride(from: 0, to: images.count, by: batch) {
            let part = Array(images[first..<min(images.count, first + batch)])
            out += trainer.predict(images: DihedralAugment.batch(part, size: size, symmetries: nil), batch: part.count, size: size)
        }
        return out
    }

    /// Scores on a split, and the predictions (probabilities `[N, K]`, or values `[N]` in transformed units).
    func score(_ trainer: FineTuneTrainer, _ split: LabelledSplit, data: RunData, size: Int) -> (scores: Scores, predictions: [Float]) {
        let raw = Self.outputs(trainer, split.images, size: size)
        switch options.task {
        case .classify:
            let labels = split.labels.map { $0! }
            var probs = [Float](repeating: 0, count: raw.count)
            let loss = CrossEntropy.forward(probs: &probs, logits: raw, labels: labels, N: labels.count, K: data.outputs)
            return (Scores(classification: ClassificationReport(labels: labels, scores: probs, classCount: data.outputs), loss: loss), probs)
        case .regress:
            let scale = data.target!
            let truth = split.targets.map { scale.transformed($0!) }
            let predicted = raw.map { scale.unstandardized($0) }
            let report = RegressionReport(predicted: predicted, truth: truth)
            let baseline = RegressionReport(predicted: [Double](repeating: scale.mean, count: truth.count), truth: truth)
            return (Scores(regression: report, baseline: baseline), predicted.map { Float($0) })
        }
    }

    /// Measures the step (batch making included) on a scratch trainer, and the inference time per
    /// image; fits the step count so that steps, validation passes, the test pass and the outputs
    /// fit in the budget.
    func fitSteps(minutes: Double, config: EsViTConfig, data: RunData, size: Int, batch B: Int, initArena: ParameterArena?,
                  elapsed: Double) throws -> (steps: Int, stepSeconds: Double) {
        let t0 = Date()
        let probe = FineTuneTrainer(config: config, task: options.task, outputs: data.outputs)
        probe.initialize(backbone: initArena, seed: options.recipe.seed)
        configure(probe)
        probe.optimizer.lr = options.recipe.lr / 2
        let picks = Array(Self.epochOrder(count: data.train.count, seed: options.recipe.seed, epoch: 0).prefix(B))
        var times: [Double] = []
        for _ in 0..<3 {
            let t = Date()
            let (images, truth) = batch(data, picks: picks, epoch: 0, size: size)
            probe.train(images: images, batch: B, size: size, truth: truth)
            times.append(Date().timeIntervalSince(t))
        }
        let step = times.dropFirst().sorted()[0]
        let sample = Array(data.val.images.prefix(32))
        let t = Date()
        _ = Self.outputs(probe, sample, size: size)
        let perImage = Date().timeIntervalSince(t) / Double(max(1, sample.count))
        let valSeconds = perImage * Double(data.val.count), testSeconds = perImage * Double(data.test.count)
        // The test pass, the validation passes, the figures and the checkpoint come off the budget first.
        let steps = try StepBudget.firstFit(minutes: minutes, stepSeconds: step,
                                            reserved: elapsed + Date().timeIntervalSince(t0) + testSeconds + 2 + Double(options.recipe.evaluations) * valSeconds,
                                            measured: String(format: "validation %.1f s per pass", valSeconds))
        return (steps, step)
    }

    /// The DINO heads of a random-init network (what a from-scratch checkpoint carries beside its backbone).
    static func randomDINO(_ config: EsViTConfig, seed: UInt64) -> EsViTTrainer {
        let t = EsViTTrainer(config: config)
        t.initialize(seed: seed)
        return t
    }

    func checkpointMetadata(data: RunData, size: Int, bestStep: Int, sourceMeta: [String: String]) throws -> [String: String] {
        let compact = JSONEncoder()
        compact.outputFormatting = [.sortedKeys]
        var meta: [String: String] = [
            "task": options.task.rawValue, "classes": String(decoding: try compact.encode(data.classes), as: UTF8.self),
            "finetune": String(decoding: try compact.encode(options.recipe), as: UTF8.self), "input_size": String(size),
            "initialization": initialization, "source_checkpoint": options.checkpoint, "best_step": String(bestStep),
        ]
        if let target = data.target { meta["target"] = String(decoding: try compact.encode(target), as: UTF8.self) }
        if let recipe = sourceMeta["recipe"] { meta["recipe"] = recipe }
        for key in [DataNormalization.key, DataNormalization.skyZeroKey] { if let v = sourceMeta[key] { meta[key] = v } }
        return meta
    }

    /// One `metrics.jsonl` line of a split's scores.
    static func record(step: Int, split: String, _ s: Scores, best: Bool) -> [String: Any] {
        var r: [String: Any] = ["step": step, "split": split, "best": best, "count": s.count]
        let fields: [(String, Double?)] = [("accuracy", s.accuracy), ("macro_auc", s.macroAUC), ("loss", s.loss), ("mae", s.mae),
                                           ("rmse", s.rmse), ("bias", s.bias), ("pearson_r", s.pearsonR), ("baseline_mae", s.baselineMAE)]
        for (k, v) in fields { if let v { r[split + "_" + k] = v } }
        return r
    }

    /// The number model selection compares: validation accuracy or cross-entropy, or MAE.
    func selectionValue(_ s: Scores) -> Double {
        options.recipe.selection == .loss && s.accuracy != nil ? s.loss ?? .nan : s.accuracy ?? s.mae ?? .nan
    }

    static func summary(_ s: Scores) -> String {
        if let a = s.accuracy {
            return String(format: "accuracy %.4f, macro AUC %.4f, loss %.4f", a, s.macroAUC ?? .nan, s.loss ?? .nan)
        }
        return String(format: "MAE %.4f (mean predictor %.4f), RMSE %.4f, r %.3f, bias %+.4f", s.mae ?? .nan, s.baselineMAE ?? .nan,
                      s.rmse ?? .nan, s.pearsonR ?? .nan, s.bias ?? .nan)
    }
}

/// What `lenspipe finetune` was asked to do.
public struct FineTuneOptions: Sendable {
    /// A `lenspipe train` checkpoint: the backbone's shape and (unless `fromScratch`) its weights.
    public var checkpoint: String
    /// A lenspipe output with `train/`, `val/` and `test/`.
    public var shards: String
    /// The output folder.
    public var out: String
    public var task: FineTuneTask
    public var recipe: FineTuneRecipe
    /// A wall-clock budget: the step count is fitted to it (else `epochs`).
    public var minutes: Double?
    /// Overrides the recipe's epochs.
    public var epochs: Double?
    /// Train the same network from random init (the baseline).
    public var fromScratch = false
    /// The checkpoint's `teacher` or `student` weights.
    public var network = NetworkChoice.teacher
    /// The side images are resampled to (default: the checkpoint's global view size, as `eval`).
    public var size: Int?
    public var threads = 2

    public init(checkpoint: String, shards: String, out: String, task: FineTuneTask, recipe: FineTuneRecipe = FineTuneRecipe()) {
        self.checkpoint = checkpoint
        self.shards = shards
        self.out = out
        self.task = task
        self.recipe = recipe
    }
}
