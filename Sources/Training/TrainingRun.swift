import Cropping
import FeatureMetrics
import Foundation
import LensData
import MiniTrain
import PairSampler
import ShardWriter

/// `lenspipe train`: EsViT pre-training over the `train` split of a lenspipe output (or any MDS folder
/// with an `image` column), observable and restartable.
///
///     let run = TrainingRun(options: TrainOptions(shards: "out", run: "run1", recipe: TrainRecipe(), minutes: 10))
///     let summary = try run.run()   // run1/{recipe.json, run.json, checkpoint.safetensors, metrics.jsonl, curves.png}
///
/// One step: the next view batch (made ahead by `ViewProducer`), the schedules' values for the step,
/// MiniTrain's step (teacher forward, student forward/backward, clipped AdamW, EMA, centres), a check
/// for NaN/Inf, then metrics, the k-NN monitor and checkpoints when due.
public final class TrainingRun {
    public let options: TrainOptions
    let log: @Sendable (String) -> Void
    let progress: @Sendable (StepProgress) -> Void

    public init(options: TrainOptions, log: @escaping @Sendable (String) -> Void = { _ in },
                progress: @escaping @Sendable (StepProgress) -> Void = { _ in }) {
        self.options = options
        self.log = log
        self.progress = progress
    }

    /// Runs (or resumes) the run to its last step.
    public func run() throws -> TrainSummary {
        BLAS.setThreads(1)  // MiniTrain splits matrix products over its own threads
        KernelThreads.keepFreedMemory()
        return try KernelThreads.$count.withValue(max(1, options.threads)) { try runOnKernelThreads() }
    }

    private func runOnKernelThreads() throws -> TrainSummary {
        let start = Date()
        let folder = RunFolder(path: options.run)
        try FileManager.default.createDirectory(atPath: folder.path, withIntermediateDirectories: true)
        let data = try TrainingData(shards: options.shards)

        // The recipe, the trainer and the run's length: new, or as the interrupted run left them.
        var recipe = options.recipe
        let trainer: EsViTTrainer
        var state: RunState
        if options.resume {
            recipe = try TrainRecipe.load(path: folder.recipe)
            do { try recipe.validate(channels: data.channels) } catch { throw TrainError("\(folder.recipe): \(error)") }
            state = try RunState.read(from: folder.state)
            guard state.totalSteps >= 1, state.stepsPerEpoch >= 1, state.totalSteps <= Int(Int32.max) else {
                throw TrainError("\(folder.state): totalSteps \(state.totalSteps) and stepsPerEpoch \(state.stepsPerEpoch) must be positive step counts")
            }
            guard state.trainImages == data.train.count, state.trainFolder == data.trainFolder else {
                throw TrainError("\(folder.state): the run trained on \(state.trainImages) images of \(state.trainFolder), not \(data.train.count) of \(data.trainFolder)")
            }
            guard FileManager.default.fileExists(atPath: folder.checkpoint) else {
                throw TrainError("\(folder.checkpoint): no checkpoint to resume from (the run stopped before its first)")
            }
            trainer = try Checkpoint.load(from: folder.checkpoint)
            guard trainer.config == recipe.config(channels: trainer.config.inChannels) else {
                throw TrainError("\(folder.checkpoint): its model configuration is not the one \(folder.recipe) describes (was either file edited?)")
            }
            guard trainer.step <= state.totalSteps else {
                throw TrainError("\(folder.checkpoint): step \(trainer.step) is past the run's \(state.totalSteps) steps (\(folder.state))")
            }
            log("resuming \(folder.path) at step \(trainer.step) of \(state.totalSteps)")
        } else {
            guard !folder.hasRun else {
                throw TrainError("\(folder.path) already holds a run: pass --resume to continue it, or choose another --out")
            }
            state = try RunState.start(data: data, recipe: recipe, threads: options.threads)
            trainer = EsViTTrainer(config: recipe.config(channels: data.channels))
            trainer.initialize(seed: recipe.seed)
            if let minutes = options.minutes {
                let fit = try fitSteps(minutes: minutes, recipe: recipe, data: data, elapsed: Date().timeIntervalSince(start))
                state.totalSteps = fit.steps
                state.minutes = minutes
                state.measuredStepSeconds = fit.stepSeconds
                log(String(format: "budget %.1f min: %.3f s per step measured -> %d steps (%.2f epochs)", minutes, fit.stepSeconds, fit.steps,
                           Double(fit.steps) / Double(state.stepsPerEpoch)))
            } else {
                state.totalSteps = state.steps(epochs: options.epochs ?? recipe.epochs)
            }
            try AtomicFile.write(path: folder.recipe, parts: [Array(try recipe.json())])
            try state.write(to: folder.state)
        }
        guard trainer.config.inChannels == data.channels else {
            throw TrainError("\(data.trainFolder): images have \(data.channels) channels, the model takes \(trainer.config.inChannels)")
        }
        var schedule = TrainSchedule(recipe: recipe, totalSteps: state.totalSteps, stepsPerEpoch: state.stepsPerEpoch)
        let fixedHyper = Self.fixedHyper(recipe)
        let recipeText = String(decoding: try recipe.json(), as: UTF8.self)
        let normalizationText = try data.normalization.map { String(decoding: try Self.sortedEncoder.encode($0), as: UTF8.self) }
        func metadata() throws -> [String: String] {
            var m = ["recipe": recipeText, "run": String(decoding: try Self.sortedEncoder.encode(state), as: UTF8.self)]
            m["normalization"] = normalizationText  // what the network expects its images to be (Evaluation's DataNormalization)
            if let radius = data.skyZero { m["sky_zero"] = String(radius) }
            return m
        }
        let metrics = try MetricsLog(path: folder.metrics, keepThrough: options.resume ? trainer.step : nil)
        defer { metrics.close() }
        let monitor = try KNNMonitor(data: data, recipe: recipe)
        KernelThreads.releaseFreedMemory()  // the timing trainer's and the monitor's set-up buffers
        var collapse = CollapseMonitor(outDim: recipe.model.outDim, entropyShare: recipe.monitor.collapseEntropyShare,
                                       minFeatureStd: recipe.monitor.minFeatureStd, patience: recipe.monitor.collapsePatience)

        let B = recipe.batch, S = recipe.views.global[0].size, L = recipe.views.local.count, s = recipe.views.local.size
        let sampler = PairSampler(recipe: recipe.views, seed: recipe.seed, stretch: data.stretch)
        let order = ShardOrder(reader: data.train, seed: recipe.seed, shardsPerBlock: recipe.shardsPerBlock)
        let firstStep = trainer.step
        // A wall-clock budget refits the step count as the run goes (`refit`), so the producer is not told
        // where the run ends; it stops with the loop.
        let budget = options.resume ? nil : state.minutes.map { StepBudget(minutes: $0, start: start, plannedSteps: state.totalSteps) }
        let (channels, fixedRecipe) = (data.channels, recipe)
        let producer = ViewProducer(order: order, sampler: sampler, schedule: schedule, batch: B,
                                    steps: firstStep..<(budget == nil ? state.totalSteps : Int.max / 2)) { step, globals in
            fixedRecipe.patchMask(step: step, globals: globals, rows: 2 * B, channels: channels, size: S)
        }
        defer { producer.stop() }

        var knnSeconds = 0.0, checkpointSeconds = 0.2
        if let monitor, firstStep == 0 {
            // The baseline the curve starts from: the randomly initialised teacher.
            let knnStart = Date()
            let scores = monitor.accuracy(trainer: trainer, size: S)
            knnSeconds = Date().timeIntervalSince(knnStart)
            metrics.append(["step": 0, "knn_train": monitor.trainCount, "knn_val": monitor.valCount,
                            "elapsed_s": Date().timeIntervalSince(start)].merging(scores.record) { a, _ in a })
            log("step 0 (random init): " + scores.line)
        }
        var lastCheckpoint = Date()
        let loopStart = Date()
        var waited = 0.0, waitedSinceLine = 0.0, lineStart = Date(), stepsSinceLine = 0
        var last: EsViTTrainer.StepResult?
        var step = firstStep
        while step < state.totalSteps {
            defer { step += 1 }
            let t0 = Date()
            let produced = try producer.next(step: step), batch = produced.views
            let wait = Date().timeIntervalSince(t0)
            waited += wait
            waitedSinceLine += wait
            let v = schedule.values(at: step)
            trainer.hyper = Self.scheduled(fixedHyper, v)
            // Whether this step writes a metrics line, which alone reads the pooled features (a refit
            // below never makes this step the last: it leaves at least one step after it).
            let recorded = (step + 1) % recipe.monitor.metricsEvery == 0 || step + 1 == state.totalSteps
            let r = trainer.train(globals: batch.global, globalSize: S, locals: batch.local, localCrops: L, localSize: s, images: B,
                                  tokenMask: recipe.tokenMask(step: step, rows: 2 * B, size: S), patchMask: produced.patchMask,
                                  features: recorded)
            guard r.loss.isFinite, trainer.valuesFinite else {
                let saved = FileManager.default.fileExists(atPath: folder.checkpoint) ? "the last good checkpoint is \(folder.checkpoint)" : "no checkpoint was written yet"
                throw TrainError("step \(step + 1): \(r.loss.isFinite ? "the weights became NaN or infinite" : "the loss became " + (r.loss.isNaN ? "NaN" : "infinite")); the run stopped, \(saved) (lower optimizer.baseLR or raise optimizer.clip, then --resume)")
            }
            last = r
            stepsSinceLine += 1
            let done = step + 1
            let elapsed = Date().timeIntervalSince(loopStart)
            let rate = Double((done - firstStep) * B) / max(elapsed, 1e-9)
            progress(StepProgress(step: done, totalSteps: state.totalSteps, epoch: schedule.epoch(of: step).epoch, loss: r.loss, lr: Double(v.lr),
                                  imagesPerSecond: rate, batch: B, dataWaitShare: waited / max(elapsed, 1e-9)))

            // What follows the last step: a k-NN pass, the checkpoint and final.safetensors, the curves.
            if let total = budget?.refit(done: done, firstStep: firstStep, loopStart: loopStart, total: state.totalSteps,
                                         tail: knnSeconds + 2 * checkpointSeconds + 0.3) {
                if total != state.totalSteps {
                    state.totalSteps = total
                    schedule = TrainSchedule(recipe: recipe, totalSteps: total, stepsPerEpoch: state.stepsPerEpoch)
                    try state.write(to: folder.state)
                }
            }
            let isLast = done == state.totalSteps
            if recorded {
                let lineSeconds = Date().timeIntervalSince(lineStart)
                var record = Self.record(step: done, epoch: Double(done) / Double(state.stepsPerEpoch), r, v, outDim: recipe.model.outDim,
                                         featureDim: trainer.config.finalDim)
                record["images_per_s"] = Double(stepsSinceLine * B) / max(lineSeconds, 1e-9)
                record["data_wait"] = waitedSinceLine / max(lineSeconds, 1e-9)
                record["elapsed_s"] = Date().timeIntervalSince(start)
                let warnings = collapse.observe(viewEntropy: r.teacherViewEntropy, viewMeanEntropy: r.teacherViewMeanEntropy,
                                                regionEntropy: r.teacherRegionEntropy, regionMeanEntropy: r.teacherRegionMeanEntropy,
                                                featureStd: record["feature_std"] as? Double ?? 0, viewActive: recipe.loss.view > 0,
                                                regionActive: recipe.loss.region > 0 || recipe.loss.masked > 0)
                for w in warnings { log("step \(done): " + w) }
                if !collapse.fired.isEmpty { record["collapse"] = collapse.fired.sorted() }
                metrics.append(record)
                (lineStart, waitedSinceLine, stepsSinceLine) = (Date(), 0, 0)
            }
            if let monitor, (recipe.monitor.knnEvery > 0 && done % recipe.monitor.knnEvery == 0) || isLast {
                let scores = monitor.accuracy(trainer: trainer, size: S)
                metrics.append(["step": done, "knn_train": monitor.trainCount, "knn_val": monitor.valCount,
                                "elapsed_s": Date().timeIntervalSince(start)].merging(scores.record) { a, _ in a })
                log("step \(done): " + scores.line + " (val \(monitor.valCount) vs train \(monitor.trainCount), teacher features)")
            }
            if done >= max(1, state.totalSteps / 2) && !FileManager.default.fileExists(atPath: folder.middle) {
                try Checkpoint.save(trainer, to: folder.middle, metadata: try metadata())  // the attention study's "middle"
            }
            if done % recipe.monitor.checkpointEvery == 0 || Date().timeIntervalSince(lastCheckpoint) >= recipe.monitor.checkpointMinutes * 60 || isLast {
                let saveStart = Date()
                try Checkpoint.save(trainer, to: folder.checkpoint, metadata: try metadata())
                lastCheckpoint = Date()
                checkpointSeconds = lastCheckpoint.timeIntervalSince(saveStart)
            }
        }
        try Checkpoint.save(trainer, to: folder.final, metadata: try metadata())
        state.finished = true
        try state.write(to: folder.state)
        metrics.close()
        try TrainingCurves.draw(metrics: MetricsLog.read(folder.metrics), logK: Foundation.log(Double(recipe.model.outDim)), to: folder.curves)
        let seconds = Date().timeIntervalSince(loopStart)
        let steps = state.totalSteps - firstStep
        return TrainSummary(steps: state.totalSteps, stepsRun: steps, seconds: Date().timeIntervalSince(start),
                            imagesPerSecond: Double(steps * B) / max(seconds, 1e-9), dataWaitShare: waited / max(seconds, 1e-9),
                            finalLoss: last?.loss, knnAccuracy: MetricsLog.read(folder.metrics).last { $0["knn_accuracy"] != nil }?["knn_accuracy"] as? Double,
                            collapses: collapse.fired.sorted(), run: folder)
    }

    /// Sorted keys: a checkpoint's bytes must not depend on the process that wrote it.
    static let sortedEncoder: JSONEncoder = {
        let e = JSONEncoder()
        e.outputFormatting = [.sortedKeys]
        return e
    }()

    /// MiniTrain's hyper-parameters that stay fixed through a run, from the recipe (the one source of
    /// their values); `scheduled(_:_:)` sets the rest per step.
    static func fixedHyper(_ recipe: TrainRecipe) -> EsViTTrainer.Hyper {
        var h = EsViTTrainer.Hyper()
        h.beta1 = recipe.optimizer.beta1
        h.beta2 = recipe.optimizer.beta2
        h.clip = recipe.optimizer.clip
        h.centerMomentum = recipe.teacher.centerMomentum
        h.studentTemp = recipe.teacher.studentTemperature
        h.viewWeight = recipe.loss.view
        h.regionWeight = recipe.loss.region
        h.maskedWeight = recipe.loss.masked
        h.mimWeight = recipe.mim.weight
        h.mimTargetBlock = recipe.mim.normalizeTarget ? recipe.mim.block : 0
        return h
    }

    /// `fixed` with the schedule's values of one step.
    static func scheduled(_ fixed: EsViTTrainer.Hyper, _ v: TrainSchedule.Values) -> EsViTTrainer.Hyper {
        var h = fixed
        h.lr = v.lr
        h.weightDecay = v.weightDecay
        h.emaMomentum = v.momentum
        h.teacherTemp = v.teacherTemperature
        h.freezeLastLayer = v.freezeLastLayer
        return h
    }

    /// One `metrics.jsonl` line from a step's results.
    static func record(step: Int, epoch: Double, _ r: EsViTTrainer.StepResult, _ v: TrainSchedule.Values, outDim K: Int, featureDim D: Int) -> [String: Any] {
        let stats = FeatureStatistics(features: r.teacherPooled, dimension: D)
        return [
            "step": step, "epoch": epoch, "loss": r.loss, "view_loss": r.viewLoss, "region_loss": r.regionLoss, "masked_loss": r.maskedLoss, "mim_loss": r.mimLoss,
            "lr": Double(v.lr), "weight_decay": Double(v.weightDecay), "momentum": Double(v.momentum),
            "teacher_temperature": Double(v.teacherTemperature), "last_layer_frozen": v.freezeLastLayer,
            "teacher_entropy_view": r.teacherViewEntropy, "teacher_entropy_view_mean": r.teacherViewMeanEntropy,
            "teacher_entropy_region": r.teacherRegionEntropy, "teacher_entropy_region_mean": r.teacherRegionMeanEntropy,
            "log_k": Foundation.log(Double(K)), "feature_std": stats.meanStd, "effective_rank": stats.effectiveRank,
        ]
    }

    /// Measures the step (and the views and the k-NN monitor) on a scratch trainer, and fits the step
    /// count to the budget: `steps x (step + views) + k-NN evaluations = budget - time spent so far`.
    func fitSteps(minutes: Double, recipe: TrainRecipe, data: TrainingData, elapsed: Double) throws -> (steps: Int, stepSeconds: Double) {
        let B = recipe.batch, S = recipe.views.global[0].size
        let probe = EsViTTrainer(config: recipe.config(channels: data.channels))
        probe.initialize(seed: recipe.seed)
        probe.hyper = Self.scheduled(Self.fixedHyper(recipe), TrainSchedule(recipe: recipe, totalSteps: 100, stepsPerEpoch: 100).values(at: 50))
        let order = ShardOrder(reader: data.train, seed: recipe.seed, shardsPerBlock: recipe.shardsPerBlock)
        let indices = Array(order.order(epoch: 0).prefix(B))
        let samples = try indices.map { try order.sample($0) }
        let sampler = PairSampler(recipe: recipe.views, seed: recipe.seed, stretch: data.stretch)
        let t0 = Date()
        let batch = sampler.makeBatch(images: samples.map(\.image), samples: indices, epoch: 0, threads: 1,
                                      maps: samples.map { sampler.foregroundMap($0.image, mask: $0.foreground) }, layout: .cropMajor)
        let patchMask = recipe.patchMask(step: 0, globals: batch.global, rows: 2 * B, channels: data.channels, size: S)
        let viewSeconds = Date().timeIntervalSince(t0)  // what the view producer does per step
        var times: [Double] = []
        for _ in 0..<3 {
            let t = Date()
            _ = probe.train(globals: batch.global, globalSize: S, locals: batch.local, localCrops: recipe.views.local.count,
                            localSize: recipe.views.local.size, images: B, tokenMask: recipe.tokenMask(step: 0, rows: 2 * B, size: S),
                            patchMask: patchMask)
            times.append(Date().timeIntervalSince(t))
        }
        let step = times.dropFirst().sorted()[times.count / 2 - 1] + viewSeconds
        var knnSeconds = 0.0, knnEvery = Double.infinity
        if let monitor = try KNNMonitor(data: data, recipe: recipe) {
            let t = Date()
            _ = FeatureExtractor(network: probe.network, arena: probe.teacher, size: S).features(Array(samples.prefix(32).map(\.image)))
            knnSeconds = Date().timeIntervalSince(t) / Double(min(32, samples.count)) * Double(monitor.trainCount + monitor.valCount)
            if recipe.monitor.knnEvery > 0 { knnEvery = Double(recipe.monitor.knnEvery) }
        }
        // The k-NN at step 0 and at the end, checkpoints and curves come off the budget first.
        let steps = try StepBudget.firstFit(minutes: minutes, stepSeconds: step, perStepExtra: knnSeconds / knnEvery,
                                            reserved: elapsed + Date().timeIntervalSince(t0) + 2 * knnSeconds + 2,
                                            measured: String(format: "k-NN %.1f s", knnSeconds))
        return (steps, step)
    }
}

/// What `lenspipe train` was asked to do.
public struct TrainOptions: Sendable {
    /// A lenspipe output (with `train/` and optionally `val/`) or one MDS folder.
    public var shards: String
    /// The run folder.
    public var run: String
    public var recipe: TrainRecipe
    /// A wall-clock budget: the step count is fitted to it (else `epochs`).
    public var minutes: Double?
    /// Overrides the recipe's epochs.
    public var epochs: Double?
    public var resume = false
    public var threads = 2

    public init(shards: String, run: String, recipe: TrainRecipe, minutes: Double? = nil, epochs: Double? = nil, resume: Bool = false, threads: Int = 2) {
        self.shards = shards
        self.run = run
        self.recipe = recipe
        self.minutes = minutes
        self.epochs = epochs
        self.resume = resume
        self.threads = threads
    }
}

public struct TrainSummary: Sendable {
    public var steps: Int
    public var stepsRun: Int
    public var seconds: Double
    public var imagesPerSecond: Double
    public var dataWaitShare: Double
    public var finalLoss: Double?
    public var knnAccuracy: Double?
    public var collapses: [String]
    public var run: RunFolder
}

public struct TrainError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
