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

    /// The split of `id` under `.fractions`: FNV-1a 64 of its UTF-8, mapped to [0, 1).
    static func assign(_ id: String, _ parts: [(name: String, fraction: Double)]) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for b in id.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        // Finalise (splitmix64) so similar ids spread evenly.
        h ^= h >> 30; h = h &* 0xBF58_476D_1CE4_E5B9; h ^= h >> 27; h = h &* 0x94D0_49BB_1331_11EB; h ^= h >> 31
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
