import Foundation
import MiniTrain

/// A run of `lenspipe train`'s recipe driven by a trainer outside lenspipe (examples/pytorch/pretrain_ddp.py,
/// through libLensPipeViews' `lenspipe_run_*` functions): the resolved recipe, the run's facts
/// (`RUN/run.json`, so `lenspipe train --resume` continues the run), the train split's order per epoch,
/// the schedules' values per step (and, through `recipe`, the masks of each step: `TrainRecipe.patchMask`,
/// `tokenMask`), all from the code `lenspipe train` runs, so the two trainers cannot drift apart.
public struct ExternalRun: Sendable {
    public let recipe: TrainRecipe
    public let state: RunState
    public let schedule: TrainSchedule
    /// The shards' normalisation as a checkpoint records it (`DataNormalization.key`), and the sky-zero radius.
    public let normalizationText: String?
    public let skyZero: Int?
    /// The train split's sample order per epoch, `train`'s (`ShardOrder`).
    public let order: ShardOrder

    /// - Parameters:
    ///   - recipe: a recipe's JSON text (unlisted fields keep their defaults; empty: the defaults).
    ///   - shards: what `lenspipe train` takes (a lenspipe output with `train/`, or one MDS folder).
    ///   - totalSteps: the run's length; nil: the recipe's epochs, as `train` without `--minutes`.
    public init(recipe text: String, shards: String, totalSteps: Int?) throws {
        let recipe = text.isEmpty ? TrainRecipe() : try TrainRecipe.decode(Data(text.utf8))
        let data = try TrainingData(shards: shards)
        var state = try RunState.start(data: data, recipe: recipe, threads: 1)
        state.totalSteps = totalSteps ?? state.steps(epochs: recipe.epochs)
        guard (1...Int(Int32.max)).contains(state.totalSteps) else { throw TrainError("total steps \(state.totalSteps) must be in 1...\(Int32.max)") }
        self.recipe = recipe
        self.state = state
        schedule = TrainSchedule(recipe: recipe, totalSteps: state.totalSteps, stepsPerEpoch: state.stepsPerEpoch)
        order = ShardOrder(reader: data.train, seed: recipe.seed, shardsPerBlock: recipe.shardsPerBlock)
        normalizationText = try data.normalization.map { String(decoding: try TrainingRun.sortedEncoder.encode($0), as: UTF8.self) }
        skyZero = data.skyZero
    }

    /// One JSON object: `recipe` (every field), `config` and `hyper` (the texts a checkpoint's metadata
    /// holds), `run` (`run.json`'s object), `normalization` and `sky_zero` (nil when not recorded),
    /// `peak_lr`.
    public func describe() throws -> Data {
        let encoder = TrainingRun.sortedEncoder
        func object(_ data: Data) throws -> Any { try JSONSerialization.jsonObject(with: data) }
        var d: [String: Any] = [
            "recipe": try object(try recipe.json()),
            "config": String(decoding: try encoder.encode(recipe.config(channels: state.channels)), as: UTF8.self),
            "hyper": String(decoding: try encoder.encode(TrainingRun.fixedHyper(recipe)), as: UTF8.self),
            "run": try object(try encoder.encode(state)),
            "peak_lr": Double(recipe.peakLR),
        ]
        d["normalization"] = normalizationText
        d["sky_zero"] = skyZero
        return try JSONSerialization.data(withJSONObject: d, options: [.sortedKeys])
    }
}
