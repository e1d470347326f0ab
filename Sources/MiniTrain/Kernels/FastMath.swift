import RealModule

/// Branch-free `exp` and GELU in single precision that the compiler can vectorise (libm's `expf`
/// and `erff` are scalar calls). Accuracy: exp within 2 ulp on [-87, 88]; GELU within 3e-6.
public enum FastMath {
    /// exp(x) by Cody-Waite range reduction x = k ln2 + r, |r| <= ln2/2, and a degree-6 polynomial.
    @inline(__always) public static func exp(_ x: Float) -> Float {
        let xc = min(max(x, -87.3), 88.7)
        // Round to nearest by adding 1.5 x 2^23 (no roundf call, so the loop vectorises); the low
        // bits of the sum hold k.
        let shifted = Relaxed.multiplyAdd(xc, 1.44269504, 12_582_912)
        let k = shifted - 12_582_912
        let ki = Int32(bitPattern: shifted.bitPattern) &- 0x4B40_0000
        let r = xc - k * 0.693359375 + k * 2.12194440e-4
        var p: Float = 1.0 / 720
        p = Relaxed.multiplyAdd(p, r, 1.0 / 120)
        p = Relaxed.multiplyAdd(p, r, 1.0 / 24)
        p = Relaxed.multiplyAdd(p, r, 1.0 / 6)
        p = Relaxed.multiplyAdd(p, r, 0.5)
        p = Relaxed.multiplyAdd(p, r, 1)
        p = Relaxed.multiplyAdd(p, r, 1)
        return p * Float(bitPattern: UInt32(bitPattern: (ki &+ 127) << 23))
    }

    /// `exp` of each lane, the same operations as the scalar `exp` lane by lane (so the same values as a
    /// loop of it that the compiler vectorises), for kernels that hold 16 values in a register.
    @inline(__always) static func exp(_ x: SIMD16<Float>) -> SIMD16<Float> {
        typealias V = SIMD16<Float>
        // Swift.max(x, lo) is `lo >= x ? lo : x`, Swift.min(v, hi) `hi < v ? hi : v` (a NaN stays NaN).
        var xc = x.replacing(with: -87.3, where: V(repeating: -87.3) .>= x)
        xc = xc.replacing(with: 88.7, where: V(repeating: 88.7) .< xc)
        let shifted = V(repeating: 12_582_912).addingProduct(xc, 1.44269504)
        let k = shifted - 12_582_912
        let ki = unsafeBitCast(shifted, to: SIMD16<Int32>.self) &- 0x4B40_0000
        let r = xc - k * 0.693359375 + k * 2.12194440e-4
        var p = V(repeating: 1.0 / 720)
        p = V(repeating: 1.0 / 120).addingProduct(p, r)
        p = V(repeating: 1.0 / 24).addingProduct(p, r)
        p = V(repeating: 1.0 / 6).addingProduct(p, r)
        p = V(repeating: 0.5).addingProduct(p, r)
        p = V(repeating: 1).addingProduct(p, r)
        p = V(repeating: 1).addingProduct(p, r)
        return p * unsafeBitCast((ki &+ 127) &<< 23, to: V.self)
    }

    /// GELU's value and slope with one exp: Φ(x) = ½(1 + erf(x/√2)) by Abramowitz-Stegun 7.1.26
    /// (|error| ≤ 1.5e-7), whose exp(−z²) is the same exp(−x²/2) that φ(x) needs.
    @inline(__always) public static func gelu(_ x: Float) -> (value: Float, slope: Float) {
        let z = abs(x) * 0.70710678
        let e = exp(-z * z)
        let t = 1 / Relaxed.multiplyAdd(0.3275911, z, 1)
        var p: Float = 1.061405429
        p = Relaxed.multiplyAdd(p, t, -1.453152027)
        p = Relaxed.multiplyAdd(p, t, 1.421413741)
        p = Relaxed.multiplyAdd(p, t, -0.284496736)
        p = Relaxed.multiplyAdd(p, t, 0.254829592)
        let erfAbs = 1 - p * t * e
        let cdf = 0.5 * (1 + (x < 0 ? -erfAbs : erfAbs))
        return (x * cdf, cdf + x * e * 0.39894228)
    }
}
