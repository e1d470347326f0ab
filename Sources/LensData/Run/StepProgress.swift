/// The live state of a training loop after a step: what `train` and `finetune` draw their progress
/// lines from.
public struct StepProgress: Sendable {
    public var step: Int
    public var totalSteps: Int
    public var epoch: Int
    public var loss: Double
    public var lr: Double
    /// Images per second since the loop started.
    public var imagesPerSecond: Double
    public var etaSeconds: Double
    /// Share of the loop's wall time spent waiting for input batches (`train`'s view producer); nil
    /// where the loop makes its own batches.
    public var dataWaitShare: Double?
    /// The kept validation pass's value and step (`finetune`: accuracy, cross-entropy or MAE, as its
    /// selection rule compares); nil before the first pass.
    public var best: (value: Double, step: Int)?

    /// `imagesPerSecond` also gives the time left: the steps to go, `batch` images each, at that rate.
    public init(step: Int, totalSteps: Int, epoch: Int, loss: Double, lr: Double, imagesPerSecond: Double, batch: Int,
                dataWaitShare: Double? = nil, best: (value: Double, step: Int)? = nil) {
        (self.step, self.totalSteps, self.epoch, self.loss, self.lr) = (step, totalSteps, epoch, loss, lr)
        self.imagesPerSecond = imagesPerSecond
        etaSeconds = Double(totalSteps - step) * Double(batch) / max(imagesPerSecond, 1e-9)
        (self.dataWaitShare, self.best) = (dataWaitShare, best)
    }
}
