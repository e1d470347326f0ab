import FeatureMetrics
import Foundation
import LensData
import PairSampler
import ShardWriter

/// What a fine-tuning task can use of a split, and how a label fraction sub-samples it.
extension LabelledSplit.Catalog {
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

extension LabelledSplit {
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
