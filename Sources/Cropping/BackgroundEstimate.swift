import LensData

/// Robust sky level and noise of an image: a sigma-clipped median and MAD.
///
/// Lensing stamps are 80-90% sky, so the median is the sky level and 1.4826 x MAD its Gaussian
/// sigma, whatever the lens does. Clipping at 3 sigma (three rounds) removes the lens from the
/// estimate. When the MAD is 0 (faint Poisson counts where most pixels are equal, or a constant image)
/// the standard deviation of the clipped pixels is used; a constant image gets sigma 0 and `isConstant`.
/// NaN and infinite pixels are skipped and counted.
public struct BackgroundEstimate: Sendable, Equatable {
    public var level: Float
    public var sigma: Float
    /// Pixels that were NaN or infinite.
    public var nonfinite: Int
    public var isConstant: Bool { sigma == 0 }

    public init(level: Float, sigma: Float, nonfinite: Int) {
        self.level = level
        self.sigma = sigma
        self.nonfinite = nonfinite
    }

    /// Estimates the background of `pixels` (for C > 1 pass the channel sum).
    public init(pixels: [Float], clipSigma: Float = 3, rounds: Int = 3) {
        var values = pixels.filter { $0.isFinite }
        let nonfinite = pixels.count - values.count
        guard !values.isEmpty else {
            self.init(level: 0, sigma: 0, nonfinite: nonfinite)
            return
        }
        var level = Self.median(&values)
        var sigma: Float = 0
        for _ in 0..<rounds {
            var deviations = values.map { abs($0 - level) }
            sigma = 1.4826 * Self.median(&deviations)
            if sigma == 0 { sigma = Self.standardDeviation(values, around: level) }
            guard sigma > 0 else { break }
            let kept = values.filter { abs($0 - level) <= clipSigma * sigma }
            if kept.count == values.count || kept.count < 8 { break }
            values = kept
            level = Self.median(&values)
        }
        self.init(level: level, sigma: sigma, nonfinite: nonfinite)
    }

    /// The median, by quickselect (reorders `values`). Mean of the two middle values for even counts.
    static func median(_ values: inout [Float]) -> Float {
        let n = values.count
        precondition(n > 0)
        let upper = select(&values, n / 2)
        if n % 2 == 1 { return upper }
        let lower = values[0..<(n / 2)].max()!
        return (lower + upper) / 2
    }

    /// The k-th smallest value (0-based); afterwards `values[..<k]` hold the smaller ones.
    static func select(_ values: inout [Float], _ k: Int) -> Float {
        values.withUnsafeMutableBufferPointer { v in
            var lo = 0, hi = v.count - 1
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

    static func standardDeviation(_ values: [Float], around mean: Float) -> Float {
        guard values.count > 1 else { return 0 }
        var s = 0.0
        for v in values { let d = Double(v - mean); s += d * d }
        return Float((s / Double(values.count - 1)).squareRoot())
    }
}
