import FeatureMetrics
import Foundation
import LensData
import MiniTrain
import PairSampler
import ShardWriter
import Training

/// One split of shards pushed through a frozen network: features `[N, D]` and what each sample carries,
/// in shard order.
public struct EmbeddedSplit: Sendable {
    public var features: [Float]
    public var dimension: Int
    /// Class index per sample, nil when unlabelled.
    public var labels: [Int?]
    /// Regression target (the axion mass), nil when absent.
    public var targets: [Double?]
    public var ids: [String]
    public var count: Int { ids.count }

    /// Features of `split` from `network` with the parameters in `arena` (inference only): the final
    /// pooled feature, or with `lastBlocks` > 1 the last blocks' pooled outputs side by side
    /// (`FeatureExtractor.lastBlocks`), the final feature last.
    public init(_ split: LabelledSplit, network: EsViTNetwork, arena: ParameterArena, size: Int, lastBlocks: Int = 1,
                progress: ((Int) -> Void)? = nil) {
        var extractor = FeatureExtractor(network: network, arena: arena, size: size)
        extractor.lastBlocks = lastBlocks
        features = extractor.features(split.images, progress: progress)
        dimension = extractor.dimension
        (labels, targets, ids) = (split.labels, split.targets, split.ids)
    }

    /// Raw pixels as features: each image resampled to `size` and flattened (`[N, C x size x size]`).
    public init(rawPixels split: LabelledSplit, size: Int) {
        features = split.images.flatMap { PairSampler.wholeView($0, size: size) }
        dimension = (split.images.first?.channels ?? 1) * size * size
        (labels, targets, ids) = (split.labels, split.targets, split.ids)
    }

    /// An id as one line of `ids.txt`: a backslash is written `\\`, a newline `\n`, a carriage return
    /// `\r` (ids are file paths, which may hold any of them), so line i is always sample i.
    static func escapedLine(_ id: String) -> String {
        id.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\r", with: "\\r")
    }

    /// Throws when a feature is NaN or infinite (naming `what` and the sample): such features come from
    /// a network whose weights overflow, and no metric may see them.
    public func requireFinite(_ what: String) throws {
        guard let bad = features.firstIndex(where: { !$0.isFinite }) else { return }
        throw LensDataError(path: what, "the feature \(bad % dimension) of sample \(bad / dimension) (\(ids[bad / dimension])) is \(features[bad].isNaN ? "NaN" : "infinite"): the network's outputs overflow")
    }

    /// The last `width` columns of every row (the final pooled feature of last-blocks features).
    public func lastColumns(_ width: Int) -> EmbeddedSplit {
        precondition(width <= dimension)
        if width == dimension { return self }
        var copy = self
        copy.features = (0..<count).flatMap { features[($0 + 1) * dimension - width..<($0 + 1) * dimension] }
        copy.dimension = width
        return copy
    }

    /// Rows scaled to unit length (what k-NN compares).
    public func l2Normalized() -> [Float] { Rows.l2Normalized(features, dimension: dimension) }

    /// Writes `features.npy` (`[N, D]` float32), and beside it `labels.npy` (int64, -1 unknown),
    /// `targets.npy` (float64, NaN absent) and `ids.txt` (one per line). Those three files are not named
    /// by the user, so one that exists already is refused unless `overwrite`; non-finite features (a
    /// diverged network) are refused before anything is written.
    public func write(features path: String, normalized: Bool, overwrite: Bool = false) throws {
        let dir = (path as NSString).deletingLastPathComponent.isEmpty ? "." : (path as NSString).deletingLastPathComponent
        if !overwrite, let existing = ["labels.npy", "targets.npy", "ids.txt"].map({ dir + "/" + $0 }).first(where: { FileManager.default.fileExists(atPath: $0) }) {
            throw LensDataError(path: existing, "exists; embed writes labels.npy, targets.npy and ids.txt beside the features: choose an empty folder or pass --overwrite")
        }
        try requireFinite(path)
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try NPYWriter.write(path: dir + "/labels.npy", shape: [count], int64: labels.map { Int64($0 ?? -1) })
        try NPYWriter.write(path: dir + "/targets.npy", shape: [count], float64: targets.map { $0 ?? .nan })
        try AtomicFile.write(path: dir + "/ids.txt", parts: [Array(ids.map { Self.escapedLine($0) + "\n" }.joined().utf8)])
        try NPYWriter.write(path: path, shape: [count, dimension], float32: normalized ? l2Normalized() : features)
    }
}
