import LensData

/// Robust sky level and noise of an image: a sigma-clipped median and MAD (two rounds of clipping at 3 sigma).
///
/// Lensing stamps are 80-90% sky, so the median is the sky level and 1.4826 x MAD its Gaussian
/// sigma, whatever the lens does. Clipping at 3 sigma removes the lens from the
/// estimate. When the MAD is 0 (faint Poisson counts where most pixels are equal, or a constant image)
/// the standard deviation of the clipped pixels is used; a constant image gets sigma 0 and `isConstant`.
/// NaN and infinite pixels are skipped and counted.
///
/// Large images are estimated from an evenly strided subsample of at most `maxSamples` pixels: the
/// median's standard error is then about 0.04 sigma, and the estimate costs 20x less on 150x150.
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
    public init(pixels: [Float], clipSigma: Float = 3, rounds: Int = 2, maxSamples: Int = 1024) {
        let stride = Swift.max(1, (pixels.count + maxSamples - 1) / maxSamples)
        var values: [Float] = []
        values.reserveCapacity(pixels.count / stride + 1)
        var nonfinite = 0
        pixels.withUnsafeBufferPointer { p in
            for v in p where !v.isFinite { nonfinite += 1 }
            var i = 0
            while i < p.count {
                if p[i].isFinite { values.append(p[i]) }
                i += stride
            }
        }
        guard !values.isEmpty else {
            self.init(level: 0, sigma: 0, nonfinite: nonfinite)
            return
        }
        var scratch = [Float](repeating: 0, count: values.count)
        var level = Self.median(values)
        var sigma: Float = 0
        for _ in 0..<rounds {
            // MAD of the current set, in a reused scratch buffer.
            let n = values.count
            values.withUnsafeBufferPointer { v in scratch.withUnsafeMutableBufferPointer { d in for i in 0..<n { d[i] = abs(v[i] - level) } } }
            sigma = 1.4826 * Self.median(scratch, count: n)
            if sigma == 0 { sigma = Self.standardDeviation(values, around: level) }
            guard sigma > 0 else { break }
            let limit = clipSigma * sigma
            let before = values.count
            values.removeAll { abs($0 - level) > limit }
            if values.count == before || values.count < 8 { break }
            level = Self.median(values)
        }
        self.init(level: level, sigma: sigma, nonfinite: nonfinite)
    }

    /// The median, by selection (`LensCore.Selection`).
    static func median(_ values: [Float], count: Int? = nil) -> Float { Selection.median(values, count: count) }

    static func standardDeviation(_ values: [Float], around mean: Float) -> Float {
        guard values.count > 1 else { return 0 }
        var s = 0.0
        for v in values { let d = Double(v - mean); s += d * d }
        return Float((s / Double(values.count - 1)).squareRoot())
    }
}
