import LensData

/// The identity of one augmented view: everything its randomness may depend on, and nothing else.
///
/// A view's random draws come from a `Philox4x64` stream keyed by the seed and countered by
/// (epoch, sample, view), so the same view has the same bytes whatever the thread count, worker split
/// or batch order.
public struct ViewKey: Sendable, Hashable {
    public var seed: UInt64
    public var epoch: Int
    public var sample: Int
    public var view: Int

    public init(seed: UInt64, epoch: Int, sample: Int, view: Int) {
        self.seed = seed
        self.epoch = epoch
        self.sample = sample
        self.view = view
    }

    /// The generator for this view.
    public func generator() -> Philox4x64 {
        Philox4x64(seed: seed, stream: UInt64(sample), UInt64(view), UInt64(epoch))
    }
}
