import Cropping
import Foundation
import LensData
import ShardWriter

/// What a network expects its images to be: the normalisation of the shards it was trained on
/// (`lenspipe.json`'s, written into the checkpoint's metadata as `normalization` by `train` and carried
/// by `finetune`). `embed`, `eval`, `attention` and `finetune` refuse shards normalised otherwise:
/// the network's numbers would be for other units.
public enum DataNormalization {
    /// The metadata key.
    public static let key = "normalization"
    /// The metadata key of the sky-zero radius (absent: off).
    public static let skyZeroKey = "sky_zero"

    /// A normalisation as a person reads it: its name, with its data-set statistics or softening.
    public static func describe(_ n: Normalization) -> String {
        switch n {
        case .minmax(let s?): return "\(n.name) (low \(s.low), high \(s.high))"
        case .zscore(let s?): return "\(n.name) (background \(s.background), sigma \(s.sigma))"
        case .asinh(let s), .asinhFlux(let s): return "\(n.name) (softening \(s))"
        case .lensFlux(let s?): return "\(n.name) (lens brightness \(s.flux.map { "\($0)" } ?? "unmeasured"))"
        default: return n.name
        }
    }

    /// How to crop a raw source (not shards) for the network of `metadata`: the default window for
    /// that source (`CropCalibration.defaultSize`, as `preprocess` measures it), and the normalisation
    /// and sky-zero the checkpoint records; the preprocessing defaults when it records none.
    public static func cropConfig(metadata: [String: String], source: any SampleSource) -> CropConfig {
        let calibration = CropCalibration.run(source: source, config: CropConfig(), sample: 128, threads: 1)
        var config = CropConfig.standard(size: calibration.defaultSize, calibration: calibration)
        if let (normalization, skyZero) = expected(metadata: metadata) { (config.normalization, config.skyZero) = (normalization, skyZero) }
        return config
    }

    /// What the network of `metadata` expects: its images' normalisation and sky-zero radius (nil
    /// when the checkpoint records no normalisation).
    static func expected(metadata: [String: String]) -> (normalization: Normalization, skyZero: Int?)? {
        guard let text = metadata[key], let n = try? JSONDecoder().decode(Normalization.self, from: Data(text.utf8)) else { return nil }
        return (n, metadata[skyZeroKey].flatMap { Int($0) })
    }

    /// Throws when checkpoint `path` (its `metadata`) records a normalisation and the shards under
    /// `shards` (an MDS folder with a `lenspipe.json` near it) were written with another, or with another
    /// sky-zero radius (`skyZeroKey`). Either side
    /// unknown (a checkpoint from before this check, shards of another writer): nothing to compare.
    public static func check(metadata: [String: String], checkpoint path: String, shards: String) throws {
        guard let (expected, trained) = expected(metadata: metadata),
              FileManager.default.fileExists(atPath: shards + "/index.json"),
              let source = try? MDSSource(folder: shards), let actual = source.normalization else { return }
        guard actual == expected else {
            throw LensDataError(path: path, "the network was trained on images normalised \(describe(expected)), but \(shards) holds images normalised \(describe(actual)): preprocess them with --like the training data set")
        }
        let stored = source.skyZero
        guard trained == stored else {
            func text(_ r: Int?) -> String { r.map { "the sky beyond \($0) px of the lens set to 0" } ?? "the sky kept" }
            throw LensDataError(path: path, "the network was trained on images with \(text(trained)), but \(shards) holds images with \(text(stored)): preprocess them with --like the training data set")
        }
    }
}
