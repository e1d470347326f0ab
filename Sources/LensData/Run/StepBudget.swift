import Foundation

/// A wall-clock budget for a loop of steps (`train --minutes`, `finetune --minutes`). The step count is
/// fitted before the loop from a measured step; the loop then refits it from the seconds per step it
/// has taken so far (everything it does per step included: evaluations, checkpoints, waiting), every
/// `every` steps and at every step of the last such stretch, so the run ends on its budget on a busy
/// or quiet machine. Schedules that depend on the length follow the refitted count.
public struct StepBudget: Sendable {
    /// The budget, counted from `start`.
    public let seconds: Double
    public let start: Date
    /// Steps between refits.
    public let every: Int

    /// The first fit, before the loop, for `train --minutes` and `finetune --minutes` alike: what a step
    /// costs (`stepSeconds`, measured, plus `perStepExtra`, the share of periodic work such as
    /// validation or k-NN passes), and what comes off the budget first (`reserved`: the time already
    /// spent, final passes, outputs). Throws when not one step fits, saying what was measured.
    public static func firstFit(minutes: Double, stepSeconds: Double, perStepExtra: Double = 0, reserved: Double,
                                measured: String) throws -> Int {
        let budget = minutes * 60 - reserved
        let steps = Int((budget / (stepSeconds + perStepExtra)).rounded(.down))
        guard steps >= 1 else {
            throw BudgetError(String(format: "a budget of %.1f min leaves no time for a step (%.2f s each, %@)", minutes, stepSeconds, measured))
        }
        return steps
    }

    /// `plannedSteps`: the count fitted before the loop (refits come every 1/40 of it, at least 20 steps).
    public init(minutes: Double, start: Date, plannedSteps: Int) {
        seconds = minutes * 60
        self.start = start
        every = max(20, plannedSteps / 40)
    }

    /// The step count that ends the run on budget, when it is time to refit (else nil): `done` steps
    /// have run, `firstStep` of them before `loopStart` (a resumed run's), the run needs `tail` seconds
    /// after its last step, and `total` is the count in force. At least `done + 1`.
    public func refit(done: Int, firstStep: Int = 0, loopStart: Date, total: Int, tail: Double) -> Int? {
        guard done < total, done > firstStep, done % every == 0 || total - done < every else { return nil }
        let now = Date()
        let perStep = now.timeIntervalSince(loopStart) / Double(done - firstStep)
        let left = seconds - now.timeIntervalSince(start) - tail
        return done + max(1, Int((left / perStep).rounded(.down)))
    }
}

/// A wall-clock budget too short for the work (`StepBudget.firstFit`).
public struct BudgetError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
