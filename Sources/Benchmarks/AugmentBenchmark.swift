import Cropping
import Foundation
import LensData
import LensSynth
import PairSampler
import ShardWriter

/// `lenspipe bench augment`: images/s and views/s of the full view recipe, rejection sampling included.
/// Foreground maps are computed first (once per image, as a trainer does); the timed part makes every
/// view, the best of `repeats` epochs. `scripts/bench_augment_py.py` is the albumentations chain.
public enum AugmentBenchmark {
    public struct Result: Encodable, Sendable {
        public var images: Int, threads: Int, seconds: Double
        public var imagesPerSecond: Double, viewsPerSecond: Double, imagesPerSecondPerCore: Double
        public var acceptance: Double, rejection: Bool, wouldReject: Int, wouldRejectShare: Double
        public var views: ViewStats
        public var storedMasks: Int
        enum CodingKeys: String, CodingKey {
            case images, threads, seconds, acceptance, rejection, views
            case imagesPerSecond = "images_per_s", viewsPerSecond = "views_per_s", imagesPerSecondPerCore = "images_per_s_per_core"
            case wouldReject = "would_reject", wouldRejectShare = "would_reject_share", storedMasks = "stored_masks"
        }
    }

    /// The images to draw views from: a source's (its stored foreground masks and normalisation too),
    /// or `count` simulated 64x64 Model II-like lenses up to 8 px off centre.
    public static func images(source: String?, count: Int) throws -> (images: [LensImage], masks: [[Bool]?], stretch: Normalization) {
        guard let source else {
            let sim = LensSimulator(config: SynthConfig(size: 64, seed: 3, lensOffset: 8))
            return ((0..<count).map { LensImage(channels: 1, height: 64, width: 64, pixels: sim.render(index: $0).pixels.map(Float.init)) }, [], .none)
        }
        let s = try MDSSource.open(SourceSpec(source))
        let samples = try (0..<s.count).map { try s.sample(at: $0) }
        return (samples.map(\.image), samples.map(\.foreground), (s as? MDSSource)?.normalization ?? .none)
    }

    public static func run(images: [LensImage], masks: [[Bool]?], stretch: Normalization, recipe: ViewRecipe, threads: Int, repeats: Int) -> Result {
        let sampler = PairSampler(recipe: recipe, seed: 1, stretch: stretch)
        let maps = ParallelRunner.map(count: images.count, chunkSize: 32, threads: threads) { r in
            r.map { sampler.foregroundMap(images[$0], mask: masks.isEmpty ? nil : masks[$0]) }
        }.flatMap { $0 }
        var best = Double.infinity
        var stats: ViewStats?
        for epoch in 0..<max(1, repeats) {
            let t0 = Date()
            let batch = sampler.makeBatch(images: images, samples: Array(images.indices), epoch: epoch, threads: threads, maps: maps)
            best = min(best, Date().timeIntervalSince(t0))
            stats = batch.stats
        }
        let n = Double(images.count)
        return Result(images: images.count, threads: threads, seconds: best, imagesPerSecond: n / best,
                      viewsPerSecond: n * Double(recipe.viewCount) / best, imagesPerSecondPerCore: n / best / Double(threads),
                      acceptance: stats?.acceptance ?? 1, rejection: recipe.rejection, wouldReject: stats?.wouldReject ?? 0,
                      wouldRejectShare: stats?.wouldRejectShare ?? 0, views: stats ?? ViewStats(records: []),
                      storedMasks: masks.compactMap { $0 }.count)
    }
}
