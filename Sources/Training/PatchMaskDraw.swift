import Foundation
import LensData
import MiniTrain

/// Which patches of each student global crop SimMIM's term masks at a step (`recipe.mim`). As in SimMIM's
/// `MaskGenerator`, the crop is cut into `block x block` pixel blocks and `ceil(ratio x blocks)` of them
/// are masked; each masked block masks the `(block / patch)²` patches under it. The draw is a pure
/// function of (seed, step, the crops' pixels), so a resumed run masks what an uninterrupted one did.
public enum PatchMaskDraw {
    /// The sky estimate's stride (`ForegroundPool.weights(skyStride:)`).
    static let skyStride = 2

    /// `[rows, (S/P)²]`, 1 = masked (patches row-major per crop row), for `images [rows, Cin, S, S]`.
    /// `.uniform` draws the blocks uniformly without replacement. `.lens` draws them without replacement
    /// with probability proportional to `skyWeight` plus the block's lens light (`ForegroundPool.weights`:
    /// 0 on sky, 1 once the block's mean is 3 sky sigmas above the sky), so the masked blocks fall on
    /// the lens and arcs, and a crop that is nearly all sky is masked uniformly. The sky level and sigma
    /// come from every other pixel of every other row (`skyStride`): the draw runs on the view producer's
    /// thread, whose unfinished work the step waits for, and the two medians over the whole crop were 40%
    /// of it (a quarter of a 64 px crop's pixels estimates a median to within ~0.04 sky sigmas).
    public static func draw(seed: UInt64, step: Int, images: [Float], rows: Int, channels: Int, size S: Int, patch P: Int,
                            block: Int, ratio: Double, masking: MaskPlacement, skyWeight: Double = 0.05) -> [Float] {
        precondition(block % P == 0 && S % block == 0 && images.count == rows * channels * S * S)
        let side = S / block, blocks = side * side, g = S / P, per = block / P
        let count = min(blocks, max(1, Int((ratio * Double(blocks)).rounded(.up))))
        var rng = Philox4x64(seed: seed, stream: 0x53494D4D, UInt64(step))
        let lens: [Float] = masking == .lens
            ? images.withUnsafeBufferPointer { ForegroundPool.weights(images: $0.baseAddress!, B: rows, Cin: channels, S: S, side: side,
                                                                       skyStride: skyStride) } : []
        var mask = [Float](repeating: 0, count: rows * g * g)
        var keys = [(Double, Int)](repeating: (0, 0), count: blocks)
        for r in 0..<rows {
            // Weighted sampling without replacement (Efraimidis-Spirakis): the `count` largest u^(1/w).
            // The same number of draws per row for both placements.
            for i in 0..<blocks {
                let u = 1 - rng.uniform()  // (0, 1], LensData's draw (the standard library's may change between releases)
                // ForegroundPool's weights sum to 1 per crop; rescale so that a lens block weighs ~1.
                let w = masking == .lens ? skyWeight + Double(lens[r * blocks + i]) * Double(blocks) / 4 : 1
                keys[i] = (Foundation.log(u) / w, i)
            }
            keys.sort { $0.0 > $1.0 || ($0.0 == $1.0 && $0.1 < $1.1) }
            for (_, i) in keys.prefix(count) {
                let (by, bx) = (i / side, i % side)
                for y in (by * per)..<((by + 1) * per) { for x in (bx * per)..<((bx + 1) * per) { mask[r * g * g + y * g + x] = 1 } }
            }
        }
        return mask
    }
}

extension TrainRecipe {
    /// SimMIM's patch mask of step `step` for a batch's global crops `globals [rows, channels, S, S]`
    /// (crop-major over the whole batch), `[rows, (S/P)²]`; nil when the recipe has no such term. The one
    /// draw `lenspipe train` and `ExternalRun` (the PyTorch trainer) share.
    public func patchMask(step: Int, globals: [Float], rows: Int, channels: Int, size S: Int) -> [Float]? {
        guard mim.weight > 0 else { return nil }
        return PatchMaskDraw.draw(seed: seed, step: step, images: globals, rows: rows, channels: channels, size: S, patch: model.patch,
                                  block: mim.block, ratio: mim.ratio, masking: mim.masking)
    }
}

/// Where SimMIM's masked blocks are drawn (`recipe.mim.masking`).
public enum MaskPlacement: String, Codable, Sendable, CaseIterable {
    /// Uniformly over the crop (SimMIM's).
    case uniform
    /// Weighted towards the lens light (most of a lensing stamp is sky whose pixels are noise).
    case lens
}
