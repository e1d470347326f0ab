import Cropping
import Foundation
import LensData
import LensSynth

/// `lenspipe bench crop`: crops per second (foreground detection, fixed window, normalisation) of
/// images already in memory, the best of `repeats` passes; `scripts/bench_crop.py` is numpy's.
public enum CropBenchmark {
    public struct Result: Codable, Sendable {
        public var images: Int, threads: Int, seconds: Double, size: Int, normalize: String
        public var cropsPerSecond: Double, cropsPerSecondPerCore: Double, emptyForeground: Int
        enum CodingKeys: String, CodingKey {
            case images, threads, seconds, size, normalize
            case cropsPerSecond = "crops_per_s", cropsPerSecondPerCore = "crops_per_s_per_core", emptyForeground = "empty_foreground"
        }
    }

    /// The images of `source`, or `count` simulated 150x150 Model I-like images without one.
    public static func images(source: String?, count: Int, threads: Int) throws -> [LensImage] {
        if let source {
            let s = try SourceSpec(source).open()
            return try (0..<s.count).map { try s.sample(at: $0).image }
        }
        let sim = LensSimulator(config: SynthConfig(size: 150, seed: 1))
        return ParallelRunner.map(count: count, chunkSize: 64, threads: threads) { r in
            r.map { i in LensImage(channels: 1, height: 150, width: 150, pixels: sim.render(index: i).pixels.map(Float.init)) }
        }.flatMap { $0 }
    }

    /// Crops `images` to `size` px with the normalisation `normalize` (a `-dataset` one calibrated first,
    /// untimed).
    public static func run(images: [LensImage], size: Int, normalize: String, threads: Int, repeats: Int) throws -> Result {
        var config = CropConfig(policy: .fixed, size: size)
        guard let normalization = CropCalibration.normalization(named: normalize, images: images, config: config, threads: threads) else {
            throw LensDataError(path: "--normalize", "'\(normalize)' is not one of \(Normalization.names.joined(separator: ", "))")
        }
        config.normalization = normalization
        let cropper = Cropper(config: config)
        var best = Double.infinity
        var empty = 0
        for _ in 0..<max(1, repeats) {
            let t0 = Date()
            let flags = ParallelRunner.map(count: images.count, chunkSize: 32, threads: threads) { r -> Int in
                r.reduce(0) { $0 + (cropper.crop(images[$1]).1.flags.contains(.emptyForeground) ? 1 : 0) }
            }
            best = min(best, Date().timeIntervalSince(t0))
            empty = flags.reduce(0, +)
        }
        return Result(images: images.count, threads: threads, seconds: best, size: size, normalize: normalize,
                      cropsPerSecond: Double(images.count) / best, cropsPerSecondPerCore: Double(images.count) / best / Double(threads),
                      emptyForeground: empty)
    }
}
