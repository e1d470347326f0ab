import RealModule

/// The draws lensing simulation and augmentation need, on any generator.
extension RandomNumberGenerator {
    /// Uniform in [0, 1), 53 random bits.
    @inlinable public mutating func uniform() -> Double {
        Double(next() >> 11) * 0x1.0p-53
    }

    /// Uniform in [lo, hi).
    @inlinable public mutating func uniform(_ lo: Double, _ hi: Double) -> Double {
        lo + (hi - lo) * uniform()
    }

    /// Standard normal, by the Box-Muller transform (one of the pair is used; simple and stateless).
    @inlinable public mutating func normal() -> Double {
        let u1 = 1 - uniform()  // (0, 1]
        let u2 = uniform()
        return (-2 * Double.log(u1)).squareRoot() * Double.cos(2 * Double.pi * u2)
    }

    /// Two independent standard normals from one Box-Muller draw (half the cost of two `normal()` calls).
    @inlinable public mutating func normalPair() -> (Double, Double) {
        let u1 = 1 - uniform()
        let u2 = uniform()
        let r = (-2 * Double.log(u1)).squareRoot()
        return (r * Double.cos(2 * Double.pi * u2), r * Double.sin(2 * Double.pi * u2))
    }

    /// Two independent standard normals in single precision from one 64-bit draw (two 24-bit
    /// uniforms, Box-Muller with `logf`/`cosf`/`sinf`): the fast path for per-pixel noise.
    @inlinable public mutating func normalPairFloat() -> (Float, Float) {
        let x = next()
        let u1 = Float((x >> 40) + 1) * 0x1.0p-24  // (0, 1]
        let u2 = Float((x >> 16) & 0xFF_FFFF) * 0x1.0p-24
        let r = (-2 * Float.log(u1)).squareRoot()
        let t = 2 * Float.pi * u2
        return (r * Float.cos(t), r * Float.sin(t))
    }

    /// Poisson with mean `lambda`: Knuth's product method below 30, otherwise Hörmann's PTRS
    /// transformed rejection (as numpy's `poisson`), exact for every mean.
    public mutating func poisson(_ lambda: Double) -> Int {
        guard lambda > 0, lambda.isFinite else { return 0 }
        if lambda < 30 {
            let limit = Double.exp(-lambda)
            var k = 0
            var p = uniform()
            while p > limit {
                k += 1
                p *= uniform()
            }
            return k
        }
        let slam = lambda.squareRoot()
        let loglam = Double.log(lambda)
        let b = 0.931 + 2.53 * slam
        let a = -0.059 + 0.02483 * b
        let invalpha = 1.1239 + 1.1328 / (b - 3.4)
        let vr = 0.9277 - 3.6224 / (b - 2)
        while true {
            let u = uniform() - 0.5
            let v = uniform()
            let us = 0.5 - abs(u)
            let k = ((2 * a / us + b) * u + lambda + 0.43).rounded(.down)
            if us >= 0.07 && v <= vr { return Int(k) }
            if k < 0 || (us < 0.013 && v > us) { continue }
            if Double.log(v) + Double.log(invalpha) - Double.log(a / (us * us) + b)
                <= -lambda + k * loglam - Double.logGamma(k + 1) {
                return Int(k)
            }
        }
    }
}
