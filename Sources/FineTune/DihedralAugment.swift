import Foundation
import LensData
import PairSampler

/// Fine-tuning's augmentation: one of the eight symmetries of the square (four 90-degree rotations,
/// each with or without a horizontal flip), drawn per (seed, epoch, sample). Lensing images have no
/// preferred orientation, and the stored stamp is already cropped and normalised.
public enum DihedralAugment {
    /// The symmetry for a sample: 0...3 rotations by 90 degrees, plus a flip for 4...7.
    public static func draw(seed: UInt64, epoch: Int, sample: Int) -> Int {
        var rng = Philox4x64(seed: seed, stream: 0xD14E, UInt64(epoch), UInt64(sample))
        return Int(rng.next() % 8)
    }

    /// Applies symmetry `k` to `image [C, S, S]` (square), returning a new `[C, S, S]`.
    /// `k` rotates counter-clockwise `k % 4` times after flipping left-right when `k >= 4`.
    public static func apply(_ k: Int, to image: [Float], channels C: Int, size S: Int) -> [Float] {
        precondition(image.count == C * S * S && (0..<8).contains(k))
        if k == 0 { return image }
        var out = [Float](repeating: 0, count: image.count)
        let flip = k >= 4, turns = k % 4
        for c in 0..<C {
            let base = c * S * S
            for y in 0..<S {
                for x in 0..<S {
                    let sx = flip ? S - 1 - x : x
                    // Rotating (sx, y) counter-clockwise `turns` times.
                    let (ty, tx): (Int, Int)
                    switch turns {
                    case 1: (ty, tx) = (S - 1 - sx, y)
                    case 2: (ty, tx) = (S - 1 - y, S - 1 - sx)
                    case 3: (ty, tx) = (sx, S - 1 - y)
                    default: (ty, tx) = (y, sx)
                    }
                    out[base + ty * S + tx] = image[base + y * S + x]
                }
            }
        }
        return out
    }

    /// A batch `[B, C, S, S]` of `images` resampled to `size` (as inference sees them), each under the
    /// symmetry `symmetries[b]` (nil: none).
    public static func batch(_ images: [LensImage], size S: Int, symmetries: [Int]?) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(images.reduce(0) { $0 + $1.channels * S * S })
        for (b, image) in images.enumerated() {
            let view = PairSampler.wholeView(image, size: S)
            out += symmetries.map { apply($0[b], to: view, channels: image.channels, size: S) } ?? view
        }
        return out
    }
}
