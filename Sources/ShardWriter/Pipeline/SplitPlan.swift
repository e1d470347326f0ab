/// How samples are divided into splits, each its own MDS folder.
public enum SplitPlan: Sendable, Equatable {
    /// Everything into one folder.
    case none
    /// Named fractions (e.g. train 0.8, val 0.1, test 0.1), assigned by a hash of the sample id, so a
    /// sample stays in its split however the data set grows or is reordered.
    case fractions([(name: String, fraction: Double)])
    /// The source's own split folders (`train/`, `test/`, ...), each mapped to the same name.
    case keepSplits

    public static func == (a: SplitPlan, b: SplitPlan) -> Bool {
        switch (a, b) {
        case (.none, .none), (.keepSplits, .keepSplits): return true
        case (.fractions(let x), .fractions(let y)): return x.map(\.name) == y.map(\.name) && x.map(\.fraction) == y.map(\.fraction)
        default: return false
        }
    }

    /// Parses `train=0.8,val=0.1,test=0.1`; fractions must be positive and sum to 1.
    public static func parse(_ text: String) throws -> SplitPlan {
        var parts: [(String, Double)] = []
        for item in text.split(separator: ",") {
            let kv = item.split(separator: "=")
            guard kv.count == 2, let f = Double(kv[1]), f > 0, !kv[0].isEmpty,
                  kv[0].allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }) else {
                throw ShardPipelineError("--split expects name=fraction pairs such as train=0.8,val=0.1,test=0.1; '\(item)' is not one")
            }
            parts.append((String(kv[0]), f))
        }
        guard !parts.isEmpty, abs(parts.reduce(0) { $0 + $1.1 } - 1) < 1e-6 else {
            throw ShardPipelineError("--split fractions must sum to 1")
        }
        guard Set(parts.map(\.0)).count == parts.count else { throw ShardPipelineError("--split names must be distinct") }
        return .fractions(parts.map { (name: $0.0, fraction: $0.1) })
    }

    /// A seeded 64-bit hash of `id`: FNV-1a 64 of its UTF-8, the seed mixed in (seed 0 leaves it as
    /// is), finalised with splitmix64 so similar ids spread evenly.
    static func key(_ id: String, seed: UInt64) -> UInt64 {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        h ^= seed &* 0x9E37_79B9_7F4A_7C15
        h ^= h >> 30; h = h &* 0xBF58_476D_1CE4_E5B9; h ^= h >> 27; h = h &* 0x94D0_49BB_1331_11EB; h ^= h >> 31
        return h
    }

    /// Stratified splits: within each label, the samples ordered by `key(id, seed)` take the splits
    /// in turn, split k getting ranks `[round(n F_{k-1}), round(n F_k))` with F the cumulative
    /// fractions, so every class is divided in the given proportions to within one sample. The result
    /// depends only on the (id, label) pairs, not on their order or on how the work is divided.
    /// - Returns: the split index of each sample.
    public static func stratified(ids: [String], labels: [Int], parts: [(name: String, fraction: Double)], seed: UInt64) -> [Int] {
        precondition(ids.count == labels.count)
        var byLabel: [Int: [Int]] = [:]
        for (i, l) in labels.enumerated() { byLabel[l, default: []].append(i) }
        var out = [Int](repeating: parts.count - 1, count: ids.count)
        for members in byLabel.values {
            let ranked = members.map { (key: key(ids[$0], seed: seed), id: ids[$0], index: $0) }
                .sorted { $0.key != $1.key ? $0.key < $1.key : $0.id.utf8.lexicographicallyPrecedes($1.id.utf8) }
            var cumulative = 0.0, start = 0
            for (k, p) in parts.enumerated() {
                cumulative += p.fraction
                let end = k == parts.count - 1 ? ranked.count : min(ranked.count, Int((cumulative * Double(ranked.count)).rounded()))
                for r in start..<max(start, end) { out[ranked[r].index] = k }
                start = max(start, end)
            }
        }
        return out
    }

    /// The split of `id` under `.fractions` without labels: `key(id, seed)` mapped to [0, 1).
    static func assign(_ id: String, _ parts: [(name: String, fraction: Double)], seed: UInt64 = 0) -> Int {
        let h = key(id, seed: seed)
        let u = Double(h >> 11) * 0x1.0p-53
        var acc = 0.0
        for (i, p) in parts.enumerated() {
            acc += p.fraction
            if u < acc { return i }
        }
        return parts.count - 1
    }
}

/// A problem with the preprocessing run itself (not with one input).
public struct ShardPipelineError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
