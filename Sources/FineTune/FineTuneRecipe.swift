import Foundation
import MiniTrain

/// What the labels teach: the class (cross-entropy) or a number (the axion mass, regressed).
public enum FineTuneTask: String, Codable, Sendable, CaseIterable {
    case classify
    case regress
}

/// Which validation pass's weights a fine-tune keeps.
///
/// With few labels the validation subset is small (1% of a DeepLense val split is 9 images), so any
/// rule reads noise. Measured on the study set at 1% (`docs/science.md`, "Model selection with few
/// labels"): accuracy and the last step are within 0.01 of each other; the lowest cross-entropy is
/// worse (on a hard 9-image subset it keeps the first, near-uniform pass).
public enum FineTuneSelection: String, Codable, Sendable, CaseIterable {
    /// The highest validation accuracy, ties broken by the lower cross-entropy (regression: the lowest MAE).
    case accuracy
    /// The lowest validation cross-entropy (regression: the lowest MAE).
    case loss
    /// The weights of the last step (no selection; validation is only logged).
    case last
}

/// Every hyper-parameter of a fine-tuning run (written into `report.json` and the checkpoint's metadata).
///
/// AdamW with a linear warm-up from 0 and a cosine decay to `minLR`; the head learns at `lr` and the
/// backbone at `lr x backboneLRScale` (a pre-trained backbone should move less than a new head; 1 for
/// a network trained from scratch). Weight decay is constant and skips biases and 1-D tensors.
public struct FineTuneRecipe: Codable, Sendable, Equatable {
    /// Images per step (at most the training set's size).
    public var batch = 32
    /// Passes over the (sub-sampled) training set, when no wall-clock budget is given.
    public var epochs: Double = 10
    /// The head's peak learning rate.
    public var lr: Float = 1e-3
    /// The backbone's learning rate relative to the head's (0 freezes it).
    public var backboneLRScale: Float = 0.1
    public var minLR: Float = 1e-6
    /// Linear warm-up from 0, as a fraction of the steps.
    public var warmupFraction = 0.1
    public var weightDecay: Float = 0.05
    /// Per-tensor gradient-norm clip (0: off), as pre-training does.
    public var clip: Float = 3
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    /// Regression loss on standardised targets: `huber` (with `huberDelta`, in standard deviations) or `l2`.
    public var loss = "huber"
    public var huberDelta: Float = 1
    /// The share of the training split used (seeded, stratified by label; by target decile for regression).
    public var labelFraction = 1.0
    /// Seeds the head's initialisation (and the whole network's with `--from-scratch`), the sub-sample,
    /// the batch order and the augmentation.
    public var seed: UInt64 = 0
    /// Random flips and 90-degree rotations of the stored image (the eight symmetries of the square).
    public var augment = true
    /// Validation passes over the run, evenly spaced, the last at the final step (model selection).
    public var evaluations = 10
    /// The share of the steps that train the head alone, the backbone frozen, before the whole network
    /// learns (LP-FT, Kumar et al. 2022: a random head's early gradients otherwise reach the
    /// pre-trained features). 0: off; 1: a linear probe. After it the backbone's rate ramps up over the
    /// warm-up's length (`backboneScale`); AdamW's moments carry over. A network from scratch has no
    /// features to keep: the label-efficiency curve runs its scratch cells with 0.
    public var probeFirst = 0.0
    /// How the kept weights are chosen among the validation passes.
    public var selection: FineTuneSelection = .accuracy
    /// Also score the test split at every validation pass, into `metrics.jsonl` (for studies of the
    /// selection rule; the report's test score is still the kept weights').
    public var traceTest = false
    /// A `metrics.jsonl` line every this many steps.
    public var metricsEvery = 10

    public init() {}

    public var regressionLoss: RegressionLoss.Kind { loss == "l2" ? .squared : .huber(delta: huberDelta) }

    /// The optimizer at peak rate (the schedule sets `lr` per step).
    public var optimizer: AdamW { AdamW(lr: lr, weightDecay: weightDecay, beta1: beta1, beta2: beta2, clip: clip) }

    /// The head's learning rate at step `step` (0-based) of `total`: linear warm-up from 0, then cosine to `minLR`.
    public func learningRate(step: Int, total: Int) -> Float {
        let total = max(1, total)
        let warmup = Int((warmupFraction * Double(total)).rounded())
        if step < warmup { return lr * Float(step) / Float(warmup) }
        let t = min(max(Double(step - warmup) / Double(max(1, total - warmup)), 0), 1)
        return minLR + (lr - minLR) * Float(0.5 * (1 + cos(Double.pi * t)))
    }

    /// The backbone's rate relative to the head's at step `step` (0-based) of `total`: 0 during the
    /// `probeFirst` share, then `backboneLRScale` reached by a linear ramp over the warm-up's length,
    /// so the unfrozen backbone warms up as the head did.
    public func backboneScale(step: Int, total: Int) -> Float {
        let frozen = Int((probeFirst * Double(total)).rounded(.up))
        guard step >= frozen else { return 0 }
        guard frozen > 0 else { return backboneLRScale }
        let ramp = max(1, Int((warmupFraction * Double(total)).rounded()))
        return backboneLRScale * Float(min(1, Double(step - frozen + 1) / Double(ramp)))
    }

    /// Checks every range; the error names the option.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw FineTuneError(message) } }
        try check(batch >= 1 && batch <= 65536, "--batch must be 1...65536")
        try check(epochs > 0, "--epochs must be positive")
        try check(lr > 0 && lr.isFinite && minLR >= 0 && minLR <= lr, "--lr must be positive (and the minimum rate at most --lr)")
        try check(backboneLRScale >= 0 && backboneLRScale.isFinite, "--backbone-lr-scale must be >= 0")
        try check(warmupFraction >= 0 && warmupFraction <= 1, "the warm-up fraction must be within [0, 1]")
        try check(weightDecay >= 0 && clip >= 0, "--weight-decay and the clip must be >= 0")
        try check((0..<1).contains(beta1) && (0..<1).contains(beta2), "AdamW betas must be within [0, 1)")
        try check(loss == "huber" || loss == "l2", "--loss must be huber or l2")
        try check(huberDelta > 0, "the Huber threshold must be positive")
        try check(labelFraction > 0 && labelFraction <= 1, "--label-fraction must be within (0, 1]")
        try check(evaluations >= 1 && metricsEvery >= 1, "--evaluations must be at least 1")
        try check(probeFirst >= 0 && probeFirst <= 1, "--probe-first must be within [0, 1]")
    }
}

public struct FineTuneError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
