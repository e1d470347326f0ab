/// SplitMix64 (Steele, Lea & Flood 2014): a tiny, fast generator for seeded, reproducible shuffles.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    public var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

extension MutableCollection where Self: RandomAccessCollection, Index == Int {
    /// Fisher-Yates with `rng`, one `next() % (i + 1)` draw per position from the end: the same
    /// permutation for the same generator state on every Swift release (the standard library's
    /// `shuffle(using:)` does not promise its algorithm). Every seeded shuffle in lenspipe is this one.
    public mutating func seededShuffle<G: RandomNumberGenerator>(using rng: inout G) {
        guard count > 1 else { return }
        for i in stride(from: count - 1, to: 0, by: -1) {
            swapAt(startIndex + i, startIndex + Int(rng.next() % UInt64(i + 1)))
        }
    }
}
