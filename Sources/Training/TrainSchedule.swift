import Foundation

/// The per-step values of a run's schedules, resolved once from the recipe and the run's length
/// (DINO's `cosine_scheduler`: linear warm-up from 0, then `end + (start - end)(1 + cos(pi t)) / 2`).
public struct TrainSchedule: Sendable, Equatable {
    public let totalSteps: Int
    public let stepsPerEpoch: Int
    let recipe: TrainRecipe
    let warmupSteps: Int
    let temperatureWarmupSteps: Int
    /// Steps at the start with both heads' last layers frozen.
    public let frozenLastLayerSteps: Int

    public init(recipe: TrainRecipe, totalSteps: Int, stepsPerEpoch: Int) {
        self.recipe = recipe
        self.totalSteps = max(1, totalSteps)
        self.stepsPerEpoch = max(1, stepsPerEpoch)
        warmupSteps = Int((recipe.optimizer.warmupFraction * Double(self.totalSteps)).rounded())
        temperatureWarmupSteps = Int((recipe.teacher.temperatureWarmupFraction * Double(self.totalSteps)).rounded())
        frozenLastLayerSteps = min(Int((recipe.optimizer.freezeLastLayerEpochs * Double(self.stepsPerEpoch)).rounded()),
                                   Int((recipe.optimizer.freezeLastLayerMaxFraction * Double(self.totalSteps)).rounded()))
    }

    /// Everything that changes with the step.
    public struct Values: Sendable, Equatable, Codable {
        public var lr: Float
        public var weightDecay: Float
        public var momentum: Float
        public var teacherTemperature: Float
        public var freezeLastLayer: Bool
    }

    /// Cosine from `start` (t = 0) to `end` (t = 1).
    static func cosine(_ start: Float, _ end: Float, _ t: Double) -> Float {
        end + (start - end) * Float(0.5 * (1 + cos(Double.pi * min(max(t, 0), 1))))
    }

    /// The values for step `step` (0-based: the step about to run).
    public func values(at step: Int) -> Values {
        let o = recipe.optimizer, t = recipe.teacher
        let lr: Float
        if step < warmupSteps {
            lr = recipe.peakLR * Float(step) / Float(warmupSteps)
        } else {
            let span = max(1, totalSteps - warmupSteps)
            lr = Self.cosine(recipe.peakLR, o.minLR, Double(step - warmupSteps) / Double(span))
        }
        let progress = Double(step) / Double(max(1, totalSteps - 1))
        let temperature = step < temperatureWarmupSteps
            ? t.warmupTemperature + (t.temperature - t.warmupTemperature) * Float(step) / Float(temperatureWarmupSteps)
            : t.temperature
        return Values(lr: lr, weightDecay: Self.cosine(o.weightDecay, o.weightDecayEnd, progress),
                      momentum: Self.cosine(t.momentum, t.momentumEnd, progress), teacherTemperature: temperature,
                      freezeLastLayer: step < frozenLastLayerSteps)
    }

    /// The epoch and the position within it of step `step`.
    public func epoch(of step: Int) -> (epoch: Int, batch: Int) { (step / stepsPerEpoch, step % stepsPerEpoch) }
}
