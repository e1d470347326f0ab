import Testing
@testable import LensData
import _TestSupport

/// Philox4x64-10 equals numpy's `np.random.Philox` output word for word.
@Suite struct PhiloxTests {
    @Test func matchesNumpyPhilox() throws {
        let script = """
        import numpy as np
        for key, ctr in [((0, 0), (0, 0, 0, 0)), ((123, 456), (7, 8, 9, 10)), ((2**64 - 1, 5), (2**64 - 1, 0, 3, 0))]:
            g = np.random.Philox(key=key[0] + (key[1] << 64), counter=ctr[0] + (ctr[1] << 64) + (ctr[2] << 128) + (ctr[3] << 192))
            print(' '.join(str(int(v)) for v in g.random_raw(10)))
        """
        let lines = try TestSupport.python(script).split(separator: "\n")
        let setups: [((UInt64, UInt64), (UInt64, UInt64, UInt64, UInt64))] = [
            ((0, 0), (0, 0, 0, 0)), ((123, 456), (7, 8, 9, 10)), ((UInt64.max, 5), (UInt64.max, 0, 3, 0)),
        ]
        #expect(lines.count == setups.count)
        for (line, setup) in zip(lines, setups) {
            var g = Philox4x64(key: setup.0, counter: setup.1)
            let ours = (0..<10).map { _ in g.next() }
            #expect(ours == line.split(separator: " ").map { UInt64($0)! })
        }
    }

    @Test func drawsHaveTheRightMoments() {
        var g = Philox4x64(seed: 9, stream: 1)
        let n = 20_000
        let u = (0..<n).map { _ in g.uniform() }
        let z = (0..<n).map { _ in g.normal() }
        let f = (0..<(n / 2)).flatMap { _ -> [Double] in let (a, b) = g.normalPairFloat(); return [Double(a), Double(b)] }
        let p = (0..<n).map { _ in Double(g.poisson(4.5)) }
        let q = (0..<n).map { _ in Double(g.poisson(250)) }
        func mean(_ a: [Double]) -> Double { a.reduce(0, +) / Double(a.count) }
        func variance(_ a: [Double]) -> Double { let m = mean(a); return a.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(a.count - 1) }
        // Means within 4 standard errors; variances within 5%.
        #expect(abs(mean(u) - 0.5) < 4 * (1.0 / 12 / Double(n)).squareRoot())
        #expect(abs(mean(z)) < 4 / Double(n).squareRoot())
        #expect(abs(variance(z) - 1) < 0.05)
        #expect(abs(mean(f)) < 4 / Double(n).squareRoot())
        #expect(abs(variance(f) - 1) < 0.05)
        // Independent halves of a pair (correlation near 0).
        let pairs = (0..<n).map { _ in g.normalPairFloat() }
        #expect(abs(pairs.reduce(0.0) { $0 + Double($1.0 * $1.1) } / Double(n)) < 4 / Double(n).squareRoot())
        #expect(abs(mean(p) - 4.5) < 4 * (4.5 / Double(n)).squareRoot())
        #expect(abs(variance(p) / 4.5 - 1) < 0.05)
        #expect(abs(mean(q) - 250) < 4 * (250 / Double(n)).squareRoot())
        #expect(abs(variance(q) / 250 - 1) < 0.05)
    }
}
