import Testing
import LensData
@testable import Cropping
@testable import LensCore

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

    /// Order statistics and their largest smaller values, as sorting gives them: on a spread of distinct
    /// values, on ties, on a few values far above the rest, and on −0 and +0 (whose keys order −0 first).
    @Test func selectMatchesSorting() {
        var g = Philox4x64(seed: 9, stream: 0)
        let spread = (0..<4096).map { _ in Float(g.uniform(-1, 1)) }
        let ties = (0..<3000).map { _ in Float(g.uniform(-4, 4)).rounded() }
        let misleading = (0..<4096).map { i in i % 32 == 0 ? 1000 + Float(i) : Float(g.uniform(0, 1)) }
        let zeros = (0..<2500).map { i in i % 3 == 0 ? Float(-0.0) : (i % 3 == 1 ? 0 : Float(g.uniform(-1, 1))) }
        for v in [spread, ties, misleading, zeros] {
            let keys = v.map(Selection.sortKey).sorted()
            for k in Set([0, 1, v.count / 2, v.count / 2 - 1, v.count - 1] + Array(stride(from: 0, to: v.count, by: 37))) {
                let (value, below) = v.withUnsafeBufferPointer { Selection.select($0.baseAddress!, v.count, k) }
                #expect(Selection.sortKey(value) == keys[k], "k = \(k) of \(v.count)")
                let expectedBelow = k > 0 && keys[k - 1] < keys[k] ? keys[k - 1] : nil
                #expect(below.map(Selection.sortKey) == expectedBelow, "k = \(k) of \(v.count)")
            }
        }
    }

    @Test func medianBySelectMatchesSorting() {
        var g = Philox4x64(seed: 8, stream: 0)
        // Ties (rounded values), then a sky's spread of distinct values over several radix passes.
        for (n, rounded) in [(1, true), (2, true), (3, true), (10, true), (101, true), (1000, true), (3000, true), (4096, false), (4095, false)] {
            let v = (0..<n).map { _ in Float(g.uniform(-5, 5)) }.map { rounded ? $0.rounded() : 1e-3 * $0 + 0.25 }
            let s = v.sorted()
            let expected = n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2
            #expect(BackgroundEstimate.median(v) == expected, "n = \(n)")
        }
    }
}
