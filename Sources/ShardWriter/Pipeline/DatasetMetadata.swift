import Cropping
import Foundation
import LensData

/// `lenspipe.json`, beside the root `index.json`: what a preprocessed data set holds and how it was made.
///
/// Not named `*.json` inside split or part folders on purpose: `streaming.base.util.merge_index`
/// treats every `.json` below the root as an index. Use `lenspipe merge` for lenspipe's parts.
public struct DatasetMetadata: Codable, Sendable, Equatable {
    public var format = "lenspipe-mds"
    public var version = 1
    public var source: String
    public var classes: [String]
    public var imageShape: [Int]
    public var storage: String
    public var crop: CropSettings
    public var normalization: String
    public var compression: String?
    /// Split name ("" when unsplit) -> counts.
    public var splits: [String: Counts]
    public var skipped: Int
    /// What preprocess changed in the data (NaN/Inf pixels, padding, dropped targets, float16
    /// clipping); nil in files written before it was recorded.
    public var changes: Changes?
    /// How samples were divided: `stratified` (by label, seeded), `hash` (of the id, seeded), or
    /// `folders` (the source's own split folders); nil when unsplit or in files written before it was recorded.
    public var splitMethod: String?
    public var splitSeed: UInt64?
    /// What the auto window and the data-set statistics were measured on (nil when nothing was
    /// calibrated, or in files written before it was recorded).
    public var calibration: Calibration?
    /// The crop summary of the written images: kept-flux distribution and flags (as `lenspipe crop` prints).
    public var cropSummary: CropSummary?
    /// The tool that wrote the data set and its command line.
    public var tool: Tool?

    /// Every setting `preprocess --like` needs to crop and normalise new data exactly as this data
    /// set was: the optional fields are nil in files written before lenspipe 0.5.
    public struct CropSettings: Codable, Sendable, Equatable {
        public var policy: String
        public var size: Int
        public var k: Float
        public var smoothing: Float
        public var seedK: Float?
        public var minFluxShare: Float?
        public var minArea: Int?
        public var minSignificance: Float?
        public var detectionBinning: Int?
        public var margin: Float?
        /// The statistics of `minmax-dataset` / `zscore-dataset` / `lens-dataset` (nil for per-image normalisations).
        public var normalizationStats: Normalization.DatasetStats?
        /// `asinh`'s and `asinh-flux`'s softening in noise sigmas (nil for the other normalisations, and in files
        /// written before it was recorded, which used 1).
        public var asinhSoftening: Float?
        /// `CropConfig.skyZero`: the sky beyond this many pixels of the lens set to 0 (nil: off).
        public var skyZero: Int?

        enum CodingKeys: String, CodingKey {
            case policy, size, k, smoothing, margin
            case seedK = "seed_k", minFluxShare = "min_flux_share", minArea = "min_area", minSignificance = "min_significance"
            case detectionBinning = "detection_binning", normalizationStats = "normalization_stats", asinhSoftening = "asinh_softening"
            case skyZero = "sky_zero"
        }

        public init(_ c: CropConfig) {
            policy = c.policy.rawValue
            size = c.size
            k = c.k
            smoothing = c.smoothing
            seedK = c.seedK
            minFluxShare = c.minFluxShare
            minArea = c.minArea
            minSignificance = c.minSignificance
            detectionBinning = c.detectionBinning
            margin = c.margin
            normalizationStats = c.normalization.datasetStats
            skyZero = c.skyZero
            switch c.normalization {
            case .asinh(let softening), .asinhFlux(let softening): asinhSoftening = softening
            default: break
            }
        }
    }

    /// The calibration pass: which images it saw and what it decided.
    public struct Calibration: Codable, Sendable, Equatable {
        /// e.g. `split train (data/train)` or `the train part of --split (5,100 of 6,000 images)`.
        public var on: String
        public var sampled: Int
        /// The `--size auto` result (nil when the size was given).
        public var autoSize: Int?
        /// Set by `--like`: the data set whose settings were re-applied (nothing was measured).
        public var like: String?

        enum CodingKeys: String, CodingKey { case on, sampled, like; case autoSize = "auto_size" }

        public init(on: String, sampled: Int, autoSize: Int? = nil, like: String? = nil) {
            self.on = on
            self.sampled = sampled
            self.autoSize = autoSize
            self.like = like
        }
    }

    public struct Tool: Codable, Sendable, Equatable {
        public var name = "lenspipe"
        public var version: String
        public var command: [String]
        public init(version: String = LensPipeVersion.current, command: [String]) {
            self.version = version
            self.command = command
        }
    }

    public struct Counts: Codable, Sendable, Equatable {
        public var images: Int
        public var classes: [String: Int]
    }

    enum CodingKeys: String, CodingKey {
        case format, version, source, classes, storage, crop, normalization, compression, splits, skipped, changes
        case imageShape = "image_shape", splitMethod = "split_method", splitSeed = "split_seed", calibration, tool
        case cropSummary = "crop_summary"
    }

    /// The crop configuration this data set was written with, for `preprocess --like`.
    /// - Throws: when the file predates the full record (lenspipe < 0.5) or names an unknown setting.
    public func cropConfig(path: String) throws -> CropConfig {
        let c = crop
        guard let seedK = c.seedK, let minFluxShare = c.minFluxShare, let minArea = c.minArea,
              let minSignificance = c.minSignificance, let margin = c.margin else {
            throw LensDataError(path: path, "records only part of the crop settings (written before lenspipe 0.5); preprocess the reference data again, or pass the crop options by hand")
        }
        guard let policy = CropConfig.Policy(rawValue: c.policy) else { throw LensDataError(path: path, "unknown crop policy '\(c.policy)'") }
        if Normalization.needsDatasetStats(normalization) && c.normalizationStats == nil {
            throw LensDataError(path: path, "normalization \(normalization) without crop.normalization_stats")
        }
        guard let norm = normalizationSetting else { throw LensDataError(path: path, "unknown normalization '\(normalization)'") }
        let config = CropConfig(policy: policy, size: c.size, k: c.k, seedK: seedK, smoothing: c.smoothing, minFluxShare: minFluxShare,
                                minArea: minArea, minSignificance: minSignificance, detectionBinning: c.detectionBinning, margin: margin,
                                normalization: norm, skyZero: c.skyZero)
        do { try config.validate() } catch { throw LensDataError(path: path, "crop settings: \(error)") }
        return config
    }

    public var images: Int { splits.values.reduce(0) { $0 + $1.images } }

    /// The normalisation the images were written with, parameters included (nil for an unknown name).
    public var normalizationSetting: Normalization? {
        guard let norm = Normalization(name: normalization, stats: crop.normalizationStats) else { return nil }
        switch (norm, crop.asinhSoftening) {
        case (.asinh, let s?): return .asinh(softening: s)
        case (.asinhFlux, let s?): return .asinhFlux(softening: s)
        default: return norm
        }
    }

    public func write(to path: String) throws {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        try AtomicFile.write(path: path, parts: [Array(try encoder.encode(self))])
    }

    public static func read(from path: String) throws -> DatasetMetadata {
        guard let data = FileManager.default.contents(atPath: path) else { throw LensDataError(path: path, "not found") }
        do { return try JSONDecoder().decode(DatasetMetadata.self, from: data) } catch {
            throw LensDataError(path: path, "not a lenspipe metadata file: \(error)")
        }
    }

    /// Sums the counts of worker parts (same settings) into one.
    public static func merged(_ parts: [DatasetMetadata]) -> DatasetMetadata? {
        guard var out = parts.first else { return nil }
        out.splits = [:]
        out.skipped = 0
        out.changes = parts.contains { $0.changes != nil } ? Changes() : nil
        // Percentiles do not add up across parts: each worker's own file keeps its crop summary.
        if parts.count > 1 { out.cropSummary = nil }
        for p in parts {
            out.skipped += p.skipped
            if let c = p.changes { out.changes! += c }
            for (name, c) in p.splits {
                var acc = out.splits[name] ?? Counts(images: 0, classes: [:])
                acc.images += c.images
                acc.classes.merge(c.classes, uniquingKeysWith: +)
                out.splits[name] = acc
            }
        }
        return out
    }
}
