import FeatureMetrics
import LensData

/// Which final-stage tokens of each student global crop are blanked at a step, for the masked-token
/// term (`recipe.loss.masked`, MiniTrain's `TokenMask`). As in iBOT, a share of the crops is masked,
/// each with a ratio drawn uniformly from a range. The mask is a pure function of (seed, step), so a
/// resumed run blanks the same tokens as an uninterrupted one.
public enum TokenMaskDraw {
    /// `[rows, grid x grid]` flags, row-major tokens per crop row.
    /// - Parameters:
    ///   - share: probability that a crop row is masked at all.
    ///   - ratio: `[low, high]`, the share of its tokens a masked row blanks (at least one token).
    public static func draw(seed: UInt64, step: Int, rows: Int, grid g: Int, share: Double, ratio: [Double]) -> [Bool] {
        let T = g * g
        var rng = Philox4x64(seed: seed, stream: 0x4D41534B, UInt64(step))
        var mask = [Bool](repeating: false, count: rows * T)
        var order = [Int](0..<T)
        for r in 0..<rows {
            // Always the same number of draws per row, whether it is masked or not.
            // LensData's draws and the one seeded shuffle (the standard library's may change between releases).
            let masked = rng.uniform() < share
            let fraction = ratio[0] + (ratio[1] - ratio[0]) * rng.uniform()
            for i in 0..<T { order[i] = i }
            order.seededShuffle(using: &rng)
            guard masked else { continue }
            let n = min(T, max(1, Int((fraction * Double(T)).rounded())))
            for i in 0..<n { mask[r * T + order[i]] = true }
        }
        return mask
    }
}

extension TrainRecipe {
    /// The masked-token term's mask of step `step` for `rows` global crops of `S` px (crop-major over the
    /// whole batch), `[rows, g²]` on the final-stage token grid; nil when the recipe has no such term.
    /// The one draw `lenspipe train` and `ExternalRun` (the PyTorch trainer) share.
    public func tokenMask(step: Int, rows: Int, size S: Int) -> [Bool]? {
        guard loss.masked > 0 else { return nil }
        return TokenMaskDraw.draw(seed: seed, step: step, rows: rows, grid: model.tokenGrid(size: S), share: loss.maskShare, ratio: loss.maskRatio)
    }
}
