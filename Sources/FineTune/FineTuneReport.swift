import FeatureMetrics
import Foundation

/// What `lenspipe finetune` measured (`OUT/report.json`, `--json`). NaN values (an AUC of a class
/// absent from the split) are written as null.
public struct FineTuneReport: Codable, Sendable {
    public var task: FineTuneTask
    /// The pre-training checkpoint the network came from (its shape, and its weights unless from scratch).
    public var checkpoint: String
    public var shards: String
    /// `pretrained (teacher)`, `pretrained (student)` or `random init (from scratch)`.
    public var initialization: String
    /// The side of the square images the network saw.
    public var inputSize: Int
    public var labelFraction: Double
    public var trainImages: Int
    public var valImages: Int
    public var testImages: Int
    /// Class names (classification).
    public var classes: [String]?
    /// How targets were scaled (regression).
    public var target: TargetScale?
    public var steps: Int
    public var epochs: Double
    public var batch: Int
    public var minutes: Double?
    public var measuredStepSeconds: Double?
    public var seconds: Double
    /// The step whose weights were kept (best on `val`).
    public var bestStep: Int
    /// Scores of the kept weights on `val` and on `test`.
    public var val: Scores
    public var test: Scores
    public var recipe: FineTuneRecipe
    public var outputs: [String: String]

    enum CodingKeys: String, CodingKey {
        case task, checkpoint, shards, initialization, classes, target, steps, epochs, batch, minutes, seconds, val, test, recipe, outputs
        case inputSize = "input_size", labelFraction = "label_fraction", trainImages = "train_images", valImages = "val_images"
        case testImages = "test_images", measuredStepSeconds = "measured_step_seconds", bestStep = "best_step"
    }
}

/// Regression targets as the network learns them: `transform` (`log10` of the stored value when every
/// target is positive, so errors are in dex; else `none`), then standardised by the training set's
/// `mean` and `std`; predictions are reported in the transformed units.
public struct TargetScale: Codable, Sendable, Equatable {
    public var transform: String
    public var mean: Double
    public var std: Double
    /// `dex` for log10, else the stored units.
    public var units: String

    public init(transform: String, mean: Double, std: Double) {
        self.transform = transform
        self.mean = mean
        self.std = std
        units = transform == "log10" ? "dex" : "target units"
    }

    /// `log10` when every target (of all splits) is positive, else `none`.
    public static func transform(for all: [Double]) -> String { !all.isEmpty && all.allSatisfy { $0 > 0 } ? "log10" : "none" }

    public static func apply(_ transform: String, _ x: Double) -> Double { transform == "log10" ? Foundation.log10(x) : x }

    /// The transform, with mean and standard deviation of the transformed training targets.
    public init(transform: String, train: [Double]) {
        let t = train.map { Self.apply(transform, $0) }
        let mean = t.reduce(0, +) / Double(max(1, t.count))
        let variance = t.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(max(1, t.count))
        self.init(transform: transform, mean: mean, std: variance > 1e-24 ? variance.squareRoot() : 1)
    }

    /// The stored value in learning units (transformed, not standardised).
    public func transformed(_ x: Double) -> Double { Self.apply(transform, x) }
    public func standardized(_ x: Double) -> Float { Float((transformed(x) - mean) / std) }
    public func unstandardized(_ z: Float) -> Double { Double(z) * std + mean }
}

/// Scores of one split: classification (accuracy, macro and per-class one-vs-rest ROC AUC, confusion,
/// cross-entropy) or regression (MAE, RMSE, bias, Pearson r, and the MAE of always predicting the
/// training mean), in the target's transformed units.
public struct Scores: Codable, Sendable {
    public var count: Int
    public var accuracy: Double?
    public var macroAUC: Double?
    public var aucPerClass: [Double?]?
    /// `[K, K]`, rows true, columns predicted.
    public var confusion: [Int]?
    public var loss: Double?
    public var mae: Double?
    public var rmse: Double?
    public var bias: Double?
    public var pearsonR: Double?
    public var baselineMAE: Double?

    enum CodingKeys: String, CodingKey {
        case count, accuracy, confusion, loss, mae, rmse, bias
        case macroAUC = "macro_auc", aucPerClass = "auc_per_class", pearsonR = "pearson_r", baselineMAE = "baseline_mae"
    }

    static func finite(_ x: Double) -> Double? { x.isFinite ? x : nil }

    public init(classification r: ClassificationReport, loss: Double) {
        count = r.count
        accuracy = Self.finite(r.accuracy)
        macroAUC = Self.finite(r.macroAUC)
        aucPerClass = r.auc.map(Self.finite)
        confusion = r.confusion
        self.loss = Self.finite(loss)
    }

    public init(regression r: RegressionReport, baseline: RegressionReport) {
        count = r.count
        mae = Self.finite(r.mae)
        rmse = Self.finite(r.rmse)
        bias = Self.finite(r.bias)
        pearsonR = Self.finite(r.pearson)
        baselineMAE = Self.finite(baseline.mae)
    }

    /// Whether these (validation) scores beat `other` under `rule` (`.last`: always, the later pass wins).
    func better(than other: Scores?, by rule: FineTuneSelection) -> Bool {
        guard let other else { return true }
        let (loss, otherLoss) = (self.loss ?? .infinity, other.loss ?? .infinity)
        switch (rule, accuracy, other.accuracy) {
        case (.last, _, _): return true
        case (.accuracy, let a?, let b?): return a > b || (a == b && loss < otherLoss)
        case (.loss, _?, _?): return loss < otherLoss
        default: return (mae ?? .infinity) < (other.mae ?? .infinity)
        }
    }
}
