import Foundation
import LensData

/// Samples of one split of shards with what they carry (image, class, target, id), in shard order:
/// the one reader of labelled splits (`eval`'s frozen features, `finetune`'s splits, `train`'s
/// monitor subsets).
///
/// A `Catalog` reads what every sample carries first, so a caller can choose samples (a 1% stratified
/// subset) before their pixels are kept; `init(reader:indices:)` reads chosen samples in one pass.
public struct LabelledSplit: Sendable {
    public var folder: String
    /// Indices of the kept samples in the split (shard order).
    public var indices: [Int]
    public var images: [LensImage]
    /// Class per kept sample; nil when the sample has none.
    public var labels: [Int?]
    /// Regression target per kept sample, as stored (the axion mass in eV); nil when absent.
    public var targets: [Double?]
    public var ids: [String]
    public var count: Int { indices.count }
    /// The images' channels (every sample has as many).
    public var channels: Int { images.first?.channels ?? 1 }

    /// What every sample of a split carries, without keeping its pixels.
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
            let source = try MDSSource(folder: try LabelledSplit.requireShards(folder))
            let reader = source.reader
            guard reader.count > 0 else { throw LensDataError(path: folder, "the split is empty") }
            self.folder = folder
            classes = source.classes
            var (labels, targets, ids, channels) = ([Int?](), [Double?](), [String](), 1)
            for i in 0..<reader.count {
                let s = try ShardSample(try reader.sample(at: i), index: i)
                labels.append(s.label)
                targets.append(LabelledSplit.finite(s.target))
                ids.append(s.id)
                if i == 0 { channels = s.image.channels }
            }
            (self.labels, self.targets, self.ids, self.channels) = (labels, targets, ids, channels)
        }
    }

    /// Reads the samples `indices` (sorted) of a catalogued split.
    public init(_ catalog: Catalog, indices: [Int]) throws {
        try self.init(reader: try MDSReader(folder: catalog.folder), indices: indices)
    }

    /// The first `limit` samples (all by default) of the split in `folder`.
    public init(folder: String, limit: Int? = nil) throws {
        let reader = try MDSReader(folder: try Self.requireShards(folder))
        try self.init(reader: reader, indices: Array(0..<min(limit ?? reader.count, reader.count)))
    }

    /// Reads the samples `indices` (sorted for sequential shard reads) in one pass. Every image must
    /// have the first one's channel count.
    public init(reader: MDSReader, indices: [Int]) throws {
        folder = reader.folder
        self.indices = indices
        var (images, labels, targets, ids) = ([LensImage](), [Int?](), [Double?](), [String]())
        for i in indices {
            let s = try ShardSample(try reader.sample(at: i), index: i)
            if let first = images.first, s.image.channels != first.channels {
                throw LensDataError(path: folder, "sample \(i) (\(s.id)) has \(s.image.channels) channels, sample \(indices[0]) has \(first.channels): a split's images must agree")
            }
            images.append(s.image)
            labels.append(s.label)
            targets.append(Self.finite(s.target))
            ids.append(s.id)
        }
        (self.images, self.labels, self.targets, self.ids) = (images, labels, targets, ids)
    }

    /// `folder`, when it holds MDS shards; else an error that says what a split folder is.
    static func requireShards(_ folder: String) throws -> String {
        guard FileManager.default.fileExists(atPath: folder + "/index.json") else {
            throw LensDataError(path: folder, "no MDS shards (index.json) here; a split is a folder of shards, as lenspipe preprocess writes "
                                + "SHARDS/train, SHARDS/val and SHARDS/test (--split train=0.8,val=0.1,test=0.1)")
        }
        return folder
    }

    /// A target that can be learnt from: an infinite one counts as absent.
    static func finite(_ t: Double?) -> Double? { t.flatMap { $0.isFinite ? $0 : nil } }
}
