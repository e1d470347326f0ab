import FeatureMetrics
import Foundation
import LensData
import PairSampler
import ShardWriter

/// The samples of one split that a fine-tuning task can use, with what they carry, in shard order.
///
/// Reading is two passes over the shards: the labels and targets of every sample first (no pixels
/// decoded), then the images of the chosen samples only, so a 1% sub-sample of a large split never
/// holds the rest in memory.
public struct LabelledSplit: Sendable {
    public var folder: String
    /// Indices of the kept samples in the split (shard order).
    public var indices: [Int]
    public var images: [LensImage]
    /// Class per kept sample (classification: all present).
    public var labels: [Int?]
    /// Regression target per kept sample, as stored (the axion mass in eV); nil when absent.
    public var targets: [Double?]
    public var ids: [String]
    public var count: Int { indices.count }

    /// What every sample of a split carries, without its pixels.
    public struct Catalog: Sendable {
        public var folder: String
        public var labels: [Int?]
        public var targets: [Double?]
        public var ids: [String]
        public var count: Int { ids.count }
        /// Class names from `lenspipe.json` (empty when unknown).
        public var classes: [String]
        public var channels: Int

        public init(folder: String) throws {
            guard FileManager.default.fileExists(atPath: folder + "/index.json") else {
                throw FineTuneError("\(folder): no MDS shards (index.json) here; finetune reads SHARDS/train, SHARDS/val and SHARDS/test "
                                    + "(lenspipe preprocess --split train=0.8,val=0.1,test=0.1)")
            }
            let source = try MDSSource(folder: folder)
            let reader = source.reader
            guard reader.count > 0 else { throw FineTuneError("\(folder): the split is empty") }
            self.folder = folder
            classes = source.classes
            var (labels, targets, ids) = ([Int?](), [Double?](), [String]())
            for i in 0..<reader.count {
                let values = try reader.sample(at: i)
                if case .int(let l)? = values["label"], l >= 0 { labels.append(Int(l)) } else { labels.append(nil) }
                if case .number(let t)? = values["target"], t.isFinite { targets.append(t) } else { targets.append(nil) }
                if case .string(let s)? = values["id"] { ids.append(s) } else { ids.append("#\(i)") }
            }
            (self.labels, self.targets, self.ids) = (labels, targets, ids)
            channels = try ShardSample(try reader.sample(at: 0), index: 0).image.channels
        }

        /// The samples `task` can learn from: all (classification, every one labelled) or those with a
        /// finite target (regression). The error says what the split lacks.
        public func usable(for task: FineTuneTask) throws -> [Int] {
            switch task {
            case .classify:
                if let i = labels.firstIndex(where: { $0 == nil }) {
                    throw FineTuneError("\(folder): sample \(i) (\(ids[i])) has no label; finetune --task classify needs every sample labelled "
                                        + "(preprocess a folder of class folders, or a stack with --labels)")
                }
                return Array(0..<count)
            case .regress:
                let usable = (0..<count).filter { targets[$0] != nil }
                guard !usable.isEmpty else {
                    throw FineTuneError("\(folder): no sample has a regression target; finetune --task regress needs shards whose target "
                                        + "column holds the axion mass (pickled [image, mass] files, or --targets when preprocessing)")
                }
                return usable
            }
        }
    }

    /// Reads the images of `indices` (sorted) of a catalogued split.
    public init(_ catalog: Catalog, indices: [Int]) throws {
        let reader = try MDSReader(folder: catalog.folder)
        folder = catalog.folder
        self.indices = indices
        images = try indices.map { try ShardSample(try reader.sample(at: $0), index: $0).image }
        labels = indices.map { catalog.labels[$0] }
        targets = indices.map { catalog.targets[$0] }
        ids = indices.map { catalog.ids[$0] }
    }

    /// A seeded sub-sample stratified by `groups` (class, or target bin): `round(fraction x n_g)` of each
    /// group, at least one. Returns positions into `groups`, in increasing order; `fraction` 1 keeps all.
    public static func stratifiedSubsample(groups: [Int], fraction: Double, seed: UInt64) -> [Int] {
        guard fraction < 1 else { return Array(groups.indices) }
        var rng = SplitMix64(seed: seed ^ 0xF1AE_7A3E)
        var byGroup: [Int: [Int]] = [:]
        for (i, g) in groups.enumerated() { byGroup[g, default: []].append(i) }
        var kept: [Int] = []
        for g in byGroup.keys.sorted() {
            var members = byGroup[g]!
            members.seededShuffle(using: &rng)
            kept += members.prefix(max(1, Int((fraction * Double(members.count)).rounded())))
        }
        return kept.sorted()
    }

    /// Decile bins of `values` by rank (the strata of a regression target), ties in the same order as given.
    public static func quantileBins(_ values: [Double], bins: Int = 10) -> [Int] {
        let order = values.indices.sorted { values[$0] < values[$1] || (values[$0] == values[$1] && $0 < $1) }
        var out = [Int](repeating: 0, count: values.count)
        for (rank, i) in order.enumerated() { out[i] = rank * bins / max(1, values.count) }
        return out
    }
}

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
