/// Order statistics by selection (Hoare's quickselect): the median of a sky, a MAD, in linear time,
/// the same value a full sort gives (Cropping's background estimate and MiniTrain's foreground pooling).
public enum Selection {
    /// The median of the first `count` values (all by default): the middle one, or the mean of the two
    /// middle ones for an even count. Reorders them; they must not be NaN.
    public static func median(_ values: inout [Float], count: Int? = nil) -> Float {
        let n = count ?? values.count
        precondition(n > 0 && n <= values.count)
        return values.withUnsafeMutableBufferPointer { v in
            let upper = select(v, n, n / 2)
            if n % 2 == 1 { return upper }
            // After the selection every value before n / 2 is <= it: the (n/2 - 1)-th is their maximum.
            var lower = v[0]
            for i in 1..<(n / 2) { lower = Swift.max(lower, v[i]) }
            return (lower + upper) / 2
        }
    }

    /// The k-th smallest of the first `n` values (0-based); afterwards `v[..<k]` hold the smaller ones.
    public static func select(_ v: UnsafeMutableBufferPointer<Float>, _ n: Int, _ k: Int) -> Float {
        var lo = 0, hi = n - 1
        while lo < hi {
            let pivot = v[(lo + hi) / 2]
            var i = lo, j = hi
            while i <= j {
                while v[i] < pivot { i += 1 }
                while v[j] > pivot { j -= 1 }
                if i <= j { v.swapAt(i, j); i += 1; j -= 1 }
            }
            if k <= j { hi = j } else if k >= i { lo = i } else { break }
        }
        return v[k]
    }
}
