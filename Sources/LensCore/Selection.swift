/// Order statistics by radix selection: the median of a sky, a MAD, in linear time, without a
/// comparison branch per value and without moving the values, the same value a full sort gives
/// (Cropping's background estimate, and MiniTrain's foreground pooling, which SimMIM's lens-weighted
/// mask draws for every crop of every step).
public enum Selection {
    /// The median of the first `count` values (all by default): the middle one, or the mean of the two
    /// middle ones for an even count. The values must not be NaN.
    public static func median(_ values: [Float], count: Int? = nil) -> Float {
        let n = count ?? values.count
        precondition(n > 0 && n <= values.count)
        return values.withUnsafeBufferPointer { median($0.baseAddress!, count: n) }
    }

    /// The median of `v[0 ..< n]`, as above.
    public static func median(_ v: UnsafePointer<Float>, count n: Int) -> Float {
        precondition(n > 0)
        let (upper, lower) = select(v, n, n / 2)
        // For an even count, the (n/2 - 1)-th smallest is `upper` again unless a smaller value fills it.
        return n % 2 == 1 ? upper : ((lower ?? upper) + upper) / 2
    }

    /// The `k`-th smallest of `v[0 ..< n]` (0-based) and, when exactly `k` values are smaller than it,
    /// the largest of them (the (k-1)-th smallest when it differs from the k-th).
    ///
    /// The values' order keys (`sortKey`) are copied out once, with their range. The first pass takes the
    /// 11 bits below the highest bit in which the smallest and largest keys differ, each later pass the
    /// next 11 bits: it counts the candidates per value of those bits, keeps those in the bucket holding
    /// rank `k` and notes the largest key below them, until one key is left (at most three passes, over
    /// fewer candidates each time).
    public static func select(_ v: UnsafePointer<Float>, _ n: Int, _ k: Int) -> (value: Float, largestBelow: Float?) {
        precondition(k >= 0 && k < n)
        return withUnsafeTemporaryAllocation(of: UInt32.self, capacity: n) { keys in
            withUnsafeTemporaryAllocation(of: Int32.self, capacity: 1 << digitBits) { counts in
                let keys = keys.baseAddress!, counts = counts.baseAddress!
                var (lo, hi): (UInt32, UInt32) = (.max, 0)
                for i in 0..<n {
                    let key = sortKey(v[i])
                    keys[i] = key
                    lo = Swift.min(lo, key)
                    hi = Swift.max(hi, key)
                }
                var (count, rank) = (n, k)
                var below: UInt32?  // the largest key below the candidates, once any value is
                while count > 1 && lo != hi {
                    let shift = UInt32(Swift.max(0, 32 - (lo ^ hi).leadingZeroBitCount - digitBits))
                    let base = lo >> shift, buckets = Int((hi >> shift) - base) + 1
                    counts.initialize(repeating: 0, count: buckets)
                    for i in 0..<count { counts[Int((keys[i] >> shift) - base)] += 1 }
                    var bucket = 0
                    let rankInRange = rank
                    while rank >= Int(counts[bucket]) { rank -= Int(counts[bucket]); bucket += 1 }
                    // Keep the bucket's keys (in front, in order) and note the largest key below them.
                    let kept = UInt32(bucket)
                    var (kept0, largestBelow) = (0, UInt32(0))
                    for i in 0..<count {
                        let key = keys[i], digit = (key >> shift) &- base
                        keys[kept0] = key
                        kept0 &+= digit == kept ? 1 : 0
                        largestBelow = Swift.max(largestBelow, digit < kept ? key : 0)
                    }
                    if rank < rankInRange { below = largestBelow }  // some key was below the bucket
                    // The bucket's range of keys: its digit, any lower bits.
                    count = kept0
                    lo = (base + kept) << shift
                    hi = shift == 0 ? lo : lo | ((1 << shift) - 1)
                }
                // The candidates left share one key. `rank` of them precede the k-th, which has k values below
                // it when rank is 0.
                return (value(ofKey: keys[0]), rank == 0 ? below.map(value(ofKey:)) : nil)
            }
        }
    }

    private static let digitBits = 11

    /// A key whose unsigned order is the floats' order (NaN excluded; −0 sorts just before +0).
    @inline(__always) static func sortKey(_ x: Float) -> UInt32 {
        let bits = x.bitPattern
        return bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    }

    @inline(__always) static func value(ofKey key: UInt32) -> Float {
        Float(bitPattern: key & 0x8000_0000 != 0 ? key & 0x7FFF_FFFF : ~key)
    }
}
