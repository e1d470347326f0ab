import Cropping
import Evaluation
import FineTune
import Foundation
import LensData
import LensSynth
import MiniTrain
import PairSampler
import Render
import ShardWriter
import Training

/// `lenspipe demo`: the whole job on lenses lenspipe simulates itself, each stage through the same
/// library call its subcommand makes, ending in a report a person opens in a browser:
///
///     synth -> inspect (contact sheet) -> crop (crop sheet) -> preprocess to MDS shards -> verify
///     -> views (view grid) -> train (default recipe, curves) -> eval (k-NN and probe beside random
///     init and raw pixels; ROC, confusion) -> label efficiency (fine-tuning with few labels, pre-trained
///     against scratch) -> attention (maps) -> OUT/report.html
///
/// Every step records the equivalent command, its numbers, its figures and a sentence on what they
/// show (`DemoReport.Step`); the report embeds the figures, so the HTML file stands alone.
public struct DemoRun {
    public struct Options: Sendable {
        public var out = "lenspipe-demo"
        public var count = 1200
        /// Side of the simulated images: 64 (as DeepLense Model II, the default) or 150 (Model I
        /// counts). At 150 px the few minutes of training leave the features at chance (k-NN 0.33 on
        /// 1,200 images, as random init; docs/science.md), so the demo shows Model II-like stamps.
        public var imageSize = 64
        public var seed: UInt64 = 0
        public var trainMinutes = 4.0
        /// Train for this many epochs instead of `trainMinutes` (a run whose length does not depend on the machine).
        public var trainEpochs: Double?
        public var threads = 2
        /// The label-efficiency step: these fractions of the train split, one seed, each fine-tune this
        /// many minutes (with `trainEpochs`, `curveEpochs` epochs instead: a run that does not depend on the machine).
        public var curveFractions = [0.05, 0.25]
        public var curveMinutes = 0.25
        public var curveEpochs = 3.0
        public init() {}
    }

    public let options: Options
    /// One line per event (step results, progress of long steps).
    let log: @Sendable (String) -> Void
    /// Training progress: (step, total, text).
    let progress: @Sendable (Int, Int, String) -> Void

    public init(options: Options, log: @escaping @Sendable (String) -> Void = { _ in },
                progress: @escaping @Sendable (Int, Int, String) -> Void = { _, _, _ in }) {
        self.options = options
        self.log = log
        self.progress = progress
    }

    /// Runs every step and writes `OUT/report.html`. Throws on the first failed step, after writing the
    /// report of the steps that ran.
    @discardableResult
    public func run() throws -> DemoReport {
        let o = options, out = o.out
        var report = DemoReport(title: "lenspipe demo: \(o.count) simulated lenses, \(o.imageSize) px", options: o)
        defer { try? report.write(to: out + "/report.html") }
        func timed<T>(_ body: () throws -> T) rethrows -> (T, Double) {
            let t0 = Date()
            let value = try body()
            return (value, Date().timeIntervalSince(t0))
        }
        try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)

        // 1. Synthesize.
        let data = out + "/data"
        let (_, synthSeconds) = try timed {
            try SynthWriter.write(config: SynthConfig(size: o.imageSize, seed: o.seed, lensOffset: Double(o.imageSize) / 10), count: o.count,
                                  format: .tree, to: data, threads: o.threads)
        }
        report.add(.init(title: "Simulate lenses", command: "lenspipe synth -o \(data) --count \(o.count) --image-size \(o.imageSize) --seed \(o.seed) --lens-offset \(o.imageSize / 10)",
                         numbers: [("images", "\(o.count)"), ("seconds", String(format: "%.1f", synthSeconds))],
                         text: "A DeepLense-like class-folder tree (axion, cdm, no_sub), lenses up to \(o.imageSize / 10) px off centre; axion files are pickled object arrays [image, mass] as the real releases ship them."))
        log(String(format: "1. synthesized %d lenses into %@ (%.1f s)", o.count, data, synthSeconds))

        // 2. Inspect.
        let source = try NPYFolderSource(root: data)
        let scan = SourceScan.run(source, threads: o.threads)
        let (sheet, rows) = try ContactSheet.make(source: source, perClass: 6, title: "Simulated lenses, one row per class")
        try sheet.writePNG(path: out + "/sheet.png")
        report.add(.init(title: "Inspect", command: "lenspipe inspect \(data) -o \(out)/sheet.png",
                         numbers: [("images", "\(scan.images)"), ("object arrays (pickled)", "\(scan.objectArrays)"), ("classes", rows.joined(separator: ", ")),
                                   ("read errors", "\(scan.errors.count)"), ("non-finite pixels", "\(scan.nonfinitePixels)")],
                         figures: [("sheet.png", "The first six images of each class (asinh stretch).")],
                         text: "Most of each stamp is dark sky; the lens and its arcs sit near the centre. The classes differ by dark-matter substructure, which is hard to see by eye."))
        log("2. inspect: \(scan.images) images, classes \(rows.joined(separator: ", ")), \(scan.errors.count) errors; \(out)/sheet.png")

        // 3. Crop.
        let calibration = CropCalibration.run(source: source, config: CropConfig(), threads: o.threads)
        let window = calibration.defaultSize
        let cropper = Cropper(config: CropConfig.standard(size: window, calibration: calibration))
        let crops = CropRun.run(source: source, cropper: cropper, threads: o.threads)
        let worst = CropSheet.worstFirst(crops.records, count: 8).compactMap { try? source.sample(at: crops.indices[$0]) }
        try CropSheet.make(worst.map { s in let (c, r) = cropper.crop(s.image); return (s.image, c, r, s.id) },
                           title: "Crops of \(window) px around the lens, worst-kept first").writePNG(path: out + "/crops.png")
        let kept = crops.records.map { Double($0.keptFluxShare) }.sorted()
        func pct(_ q: Double) -> String { kept.isEmpty ? "-" : String(format: "%.3f", kept[min(kept.count - 1, Int(q * Double(kept.count)))]) }
        report.add(.init(title: "Crop around the lens", command: "lenspipe crop \(data) -o \(out)/crops.png",
                         numbers: [("window (auto, at least \(CropConfig.defaultMinimumWindow) px)", "\(window) px"), ("kept lens flux, 1st percentile", pct(0.01)),
                                   ("median", pct(0.5)), ("flagged crops", "\(crops.records.filter { !$0.flags.isEmpty }.count)")],
                         figures: [("crops.png", "The crops that kept the least lens flux, original with its box beside the crop.")],
                         text: "The window is the smallest that holds the lens of 99% of the images, but at least \(CropConfig.defaultMinimumWindow) px (the network's view); cropping removes sky that would otherwise fill most random views. Each crop's sky is subtracted, its lens brightness scaled to about 1 (here \(cropper.config.normalization.name): \(cropper.config.normalization == .lens ? "each image by its own, since the images' sky level and lens brightness rise together" : "by the images' median, since an image's sky level does not predict its lens brightness")) and the sky beyond \(CropConfig.defaultSkyZero) px of the lens set to 0 (preprocess's defaults)."))
        log("3. crop: window \(window) px, median kept flux \(pct(0.5)); \(out)/crops.png")

        // 4. Preprocess to shards, verify.
        var config = ShardWriter.Preprocess.Config(crop: cropper.config)
        config.split = .fractions([(name: "train", fraction: 0.8), (name: "val", fraction: 0.1), (name: "test", fraction: 0.1)])
        config.threads = o.threads
        config.overwrite = true  // the demo owns OUT/shards; a rerun replaces it
        let plan = ShardWriter.Preprocess.plan(source: source)
        let shards = out + "/shards"
        let summary = try ShardWriter.Preprocess(config: config, inputs: plan.inputs, classes: plan.classes, out: shards).run(description: plan.description)
        let verify = ShardVerify.run(root: shards, threads: o.threads)
        let splits = verify.folders.map { "\(($0.folder as NSString).lastPathComponent) \($0.samples)" }.joined(separator: ", ")
        report.add(.init(title: "Shards (MosaicML Streaming MDS, zstd)",
                         command: "lenspipe preprocess \(data) -o \(shards) --size \(window) --split train=0.8,val=0.1,test=0.1 && lenspipe verify \(shards)",
                         numbers: [("images", "\(summary.images)"), ("splits", splits), ("bytes per image", String(format: "%.0f", summary.bytesPerImage)),
                                   ("seconds", String(format: "%.2f", summary.seconds)), ("verify", verify.defects.isEmpty ? "ok" : "\(verify.defects.count) defects")],
                         text: "The same folders feed lenspipe train here and PyTorch's StreamingDataset on GPU nodes; each sample carries its lens mask, found on the raw image."))
        log("4. preprocess -> \(shards): \(splits); verify \(verify.defects.isEmpty ? "ok" : "\(verify.defects.count) defects")")
        guard verify.defects.isEmpty else { throw DemoError("\(shards): verify found \(verify.defects.count) defects") }

        // 5. Views.
        let recipe = TrainRecipe()
        let train = try MDSSource(folder: shards + "/train")
        let picks = Array(0..<min(6, train.count))
        let samples = try picks.map { try train.sample(at: $0) }
        let sampler = PairSampler(recipe: recipe.views, seed: o.seed, stretch: train.normalization ?? .none)
        let batch = sampler.makeBatch(images: samples.map(\.image), samples: picks, epoch: 0, threads: o.threads,
                                      maps: samples.map { sampler.foregroundMap($0) }, recordRejected: true)
        try ViewGrid.make(images: samples.map(\.image), ids: samples.map(\.id), batch: batch, showRejected: true,
                          title: "Training views of the first \(picks.count) training crops (default recipe)").writePNG(path: out + "/views.png")
        let stats = batch.stats
        report.add(.init(title: "SSL views", command: "lenspipe preview \(shards)/train -o \(out)/views.png --pairs \(picks.count) --show-rejected --seed \(o.seed)",
                         numbers: [("views per image", "\(recipe.views.viewCount)"), ("acceptance", String(format: "%.2f", stats.acceptance)),
                                   ("fallbacks", "\(stats.global.fallbacks + stats.local.fallbacks)"), ("images without lens mask", "\(stats.imagesWithoutForeground)")],
                         figures: [("views.png", "Each training crop with its view boxes, then the views the trainer sees; red boxes are candidates rejected for holding too little of the lens.")],
                         text: "Rejection sampling keeps sky-only crops out of training: a view must hold a share of the lens flux."))
        log(String(format: "5. views: acceptance %.2f; %@/views.png", stats.acceptance, out))

        // 6. Train.
        let run = out + "/run"
        try? FileManager.default.removeItem(atPath: run)  // a rerun trains afresh
        let progress = self.progress
        let trained = try TrainingRun(options: TrainOptions(shards: shards, run: run, recipe: recipe, minutes: o.trainEpochs == nil ? o.trainMinutes : nil,
                                                                 epochs: o.trainEpochs, threads: o.threads),
                                      log: log, progress: { p in progress(p.step, p.totalSteps, String(format: "train: step %d/%d, loss %.3f", p.step, p.totalSteps, p.loss)) }).run()
        report.add(.init(title: "Pre-train (default recipe: masked-image modelling)", command: "lenspipe train \(shards) -o \(run) " + (o.trainEpochs.map { "--epochs \($0)" } ?? "--minutes \(o.trainMinutes)"),
                         numbers: [("steps", "\(trained.stepsRun)"), ("seconds", String(format: "%.0f", trained.seconds)),
                                   ("images/s", String(format: "%.1f", trained.imagesPerSecond)),
                                   ("k-NN on val (monitor)", trained.knnAccuracy.map { String(format: "%.3f", $0) } ?? "-"),
                                   ("collapse warnings", trained.collapses.isEmpty ? "none" : trained.collapses.joined(separator: ", "))],
                         figures: [("run/curves.png", "Loss (the masked-pixel L1), teacher entropies (flat for masked-image modelling, which uses no heads), feature spread, and the monitor (k-NN and linear probe on val) against step.")],
                         text: "A compact Swin trained on the CPU without labels by masked-image modelling (SimMIM): blocks drawn on the lens are hidden behind a learnt mask token and a linear decoder reconstructs their pixels; the labels are used only for the monitor (k-NN and linear probe on val)."))
        log(String(format: "6. train: %d steps in %.0f s; %@/curves.png", trained.stepsRun, trained.seconds, run))

        // 7. Evaluate.
        var evalOptions = FrozenEvaluation.Options(checkpoint: trained.run.final, train: shards + "/train", test: shards + "/test")
        evalOptions.figures = run + "/eval"
        try FileManager.default.createDirectory(atPath: run + "/eval", withIntermediateDirectories: true)
        let evaluation = try KernelThreads.$count.withValue(o.threads) { try FrozenEvaluation(options: evalOptions).run() }
        try evaluation.write(toFolder: run + "/eval")
        var step = DemoReport.Step(title: "Evaluate frozen features", command: "lenspipe eval \(trained.run.final) --train \(shards)/train --test \(shards)/test -o \(run)/eval",
                                   numbers: [("train / test images", "\(evaluation.trainImages) / \(evaluation.testImages)")],
                                   figures: [("run/eval/roc.png", "One-vs-rest ROC curves of the linear probe on the trained features, test set."),
                                             ("run/eval/confusion.png", "The probe's confusion matrix on the test set.")],
                                   text: "k-NN (DINO's cosine vote, and the same vote on features centred by the train mean) and a linear probe on the frozen teacher's features (the k-NN on the pooled final feature, the probe on the last 4 blocks' pooled outputs, EsViT's protocol), beside a randomly initialised network and the raw pixels scored the same way: the gap is what pre-training added. "
                                       + DemoFindings.evaluation(evaluation.rows))
        step.table = (["features", "k-NN accuracy", "k-NN AUC", "centred k-NN accuracy", "probe accuracy", "probe macro AUC"],
                      evaluation.rows.map { r in
                          [r.features] + [r.knnAccuracy, r.knnMacroAUC, r.knnCentredAccuracy, r.probeAccuracy, r.probeMacroAUC].map { String(format: "%.3f", $0) }
                      })
        report.add(step)
        for r in evaluation.rows { log(String(format: "7. eval %@: k-NN %.3f, probe %.3f (AUC %.3f)", r.features, r.knnAccuracy, r.probeAccuracy, r.probeMacroAUC)) }

        // 8. Label efficiency.
        var curveOptions = FineTuneOptions(checkpoint: trained.run.final, shards: shards, out: run + "/label-efficiency", task: .classify)
        if o.trainEpochs != nil { (curveOptions.epochs, curveOptions.recipe.epochs) = (o.curveEpochs, o.curveEpochs) } else { curveOptions.minutes = o.curveMinutes }
        curveOptions.threads = o.threads
        let curve = try LabelEfficiency(base: curveOptions, fractions: o.curveFractions, seeds: [o.seed]).run()
        let budget = o.trainEpochs != nil ? "--epochs \(o.curveEpochs)" : "--minutes \(o.curveMinutes)"
        var curveStep = DemoReport.Step(title: "Label efficiency: fine-tuning with few labels",
                                        command: "lenspipe finetune \(trained.run.final) \(shards) --task classify --curve \(o.curveFractions.map { "\($0)" }.joined(separator: ",")) --seeds \(o.seed) \(budget) -o \(run)/label-efficiency",
                                        figures: [("run/label-efficiency/label_efficiency.png", "Test macro AUC and accuracy against the share of train labels used, fine-tuned from the pre-trained checkpoint and from random init.")],
                                        text: "What users pre-train for: the same fine-tune (same labels, budget and order) from the pre-trained weights and from scratch. Above the scratch line, pre-training saved labels; below, it cost them. "
                                            + DemoFindings.labelEfficiency(curve.points))
        curveStep.table = (["label fraction", "train images", "pre-trained accuracy", "pre-trained macro AUC", "scratch accuracy", "scratch macro AUC"],
                           curve.points.map { p in
                               [String(format: "%g", p.fraction), "\(p.trainImages)"]
                                   + [p.pretrained?.accuracy, p.pretrained?.macroAUC, p.scratch?.accuracy, p.scratch?.macroAUC].map { $0.map { String(format: "%.3f", $0) } ?? "-" }
                           })
        report.add(curveStep)
        for p in curve.points {
            log(String(format: "8. label efficiency at %g: pre-trained %.3f / %.3f, scratch %.3f / %.3f (accuracy / macro AUC)", p.fraction,
                       p.pretrained?.accuracy ?? .nan, p.pretrained?.macroAUC ?? .nan, p.scratch?.accuracy ?? .nan, p.scratch?.macroAUC ?? .nan))
        }

        // 9. Attention.
        let attention = try KernelThreads.$count.withValue(o.threads) {
            try AttentionStudy.run(checkpoint: trained.run.final, input: shards + "/test", count: 150, drawn: 6, network: .teacher, figure: run + "/attention.png")
        }
        func fmt(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "n/a" }
        var attentionStep = DemoReport.Step(
            title: "Attention", command: "lenspipe attention \(trained.run.final) \(shards)/test -o \(run)/attention.png --count 150 --rows 6",
            numbers: [("lens-attention ratio, mean", fmt(attention.meanRatio)), ("median", fmt(attention.medianRatio)),
                      ("per head", attention.meanRatioPerHead.map(fmt).joined(separator: ", "))],
            figures: [("run/attention.png", "Per image: the stamp, its lens mask, the attention each token receives (heads' mean), the brightest token's attention, and each token's similarity to the pooled feature.")]
                + (attention.classesFigure != nil ? [("run/attention_classes.png", "Per class: the mean stamp and mean attention, each image centred on its lens, and the class's attention minus the other classes'.")] : [])
                + [("run/attention_heads.png", "Each head's attention, per image.")],
            text: "The lens-attention ratio compares the attention on lens pixels with the lens's share of the stamp: 1 means no preference, above 1 means the model looks at the lens. " + DemoFindings.attention(attention))
        attentionStep.table = (["class", "images", "lens ratio mean", "standard deviation"] + (0..<attention.heads).map { "head \($0 + 1)" },
                               attention.classes.map { c in [c.label, "\(c.images)", fmt(c.ratioMean), fmt(c.ratioStd)] + c.ratioPerHeadMean.map(fmt) }
                                   + attention.overTraining.map { p in ["all, \(p.stage) (step \(p.step))", "\(attention.images.count)", fmt(p.meanRatio), "-"] + p.meanRatioPerHead.map(fmt) })
        report.add(attentionStep)
        log("9. attention: lens-attention ratio mean \(fmt(attention.meanRatio)); \(run)/attention.png")
        return report
    }
}

public struct DemoError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
