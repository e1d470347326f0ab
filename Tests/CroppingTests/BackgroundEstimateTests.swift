import Testing
import LensData
@testable import Cropping

@Suite struct BackgroundEstimateTests {
    @Test func gaussianSkyWithABrightLens() {
        var g = Philox4x64(seed: 5, stream: 0)
        var pixels = (0..<(100 * 100)).map { _ in Float(10 + 2 * g.normal()) }
        for i in 0..<1500 { pixels[i * 3] += 500 }  // 15% of pixels carry a bright "lens"
        let bg = BackgroundEstimate(pixels: pixels)
        #expect(abs(bg.level - 10) < 0.2)
        #expect(abs(bg.sigma - 2) < 0.15)
    }

    @Test func constantZeroAndNonFinite() {
        #expect(BackgroundEstimate(pixels: [Float](repeating: 3, count: 50)) == BackgroundEstimate(level: 3, sigma: 0, nonfinite: 0))
        #expect(BackgroundEstimate(pixels: [Float](repeating: 0, count: 50)).isConstant)
        let odd = BackgroundEstimate(pixels: [.nan, .infinity, 1, 2, 3, 4, 5])
        #expect(odd.nonfinite == 2)
        #expect(odd.level == 3)
        #expect(BackgroundEstimate(pixels: [.nan, .nan]) == BackgroundEstimate(level: 0, sigma: 0, nonfinite: 2))
    }

    @Test func medianBySelectMatchesSorting() {
        var g = Philox4x64(seed: 8, stream: 0)
        // Ties (rounded values), then a sky's spread of distinct values over several radix passes.
        for (n, rounded) in [(1, true), (2, true), (3, true), (10, true), (101, true), (1000, true), (4096, false), (4095, false)] {
            let v = (0..<n).map { _ in Float(g.uniform(-5, 5)) }.map { rounded ? $0.rounded() : 1e-3 * $0 + 0.25 }
            let s = v.sorted()
            let expected = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
            #expect(BackgroundEstimate.median(v) == expected, "n = \(n)")
        }
    }
}
