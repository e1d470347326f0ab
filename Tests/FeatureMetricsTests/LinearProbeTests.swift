import Foundation
import Testing
@testable import FeatureMetrics

/// The probe protocol: seeded stratified splits, the C search uses train rows only, determinism.
@Suite struct LinearProbeTests {
    /// Three Gaussian classes in D dimensions, `[N, D]` and `[N]`.
    static func blobs(_ n: Int, D: Int, seed: UInt64, separation: Float = 1.2) -> ([Float], [Int]) {
        var rng = SplitMix64(seed: seed)
        func normal() -> Float {
            let u = (Double(rng.next() >> 11) + 0.5) / Double(1 << 53), v = Double(rng.next() >> 11) / Double(1 << 53)
            return Float((-2 * log(u)).squareRoot() * cos(2 * .pi * v))
        }
        var x = [Float](), y = [Int]()
        for i in 0..<n {
            let label = i % 3
            y.append(label)
            for d in 0..<D { x.append(normal() + (d % 3 == label ? separation : 0)) }
        }
        return (x, y)
    }

    @Test func stratifiedSplitHoldsOutAFifthOfEachClass() {
        let labels = (0..<103).map { $0 < 50 ? 0 : $0 < 100 ? 1 : 2 }
        let (train, val) = LinearProbe.stratifiedSplit(labels: labels, classCount: 4, fraction: 0.2, seed: 9)
        #expect(Set(train).isDisjoint(with: val) && train.count + val.count == 103)
        #expect(val.filter { labels[$0] == 0 }.count == 10)
        #expect(val.filter { labels[$0] == 1 }.count == 10)
        #expect(val.filter { labels[$0] == 2 }.count == 1)  // 3 rows: round(0.6) = 1
        #expect(LinearProbe.stratifiedSplit(labels: labels, classCount: 4, fraction: 0.2, seed: 9).validation == val)
        #expect(LinearProbe.stratifiedSplit(labels: labels, classCount: 4, fraction: 0.2, seed: 10).validation != val)
        // A class with one row stays in train.
        #expect(LinearProbe.stratifiedSplit(labels: [0, 0, 1], classCount: 2, fraction: 0.5, seed: 1).validation.count == 1)
    }

    @Test func chosenCDoesNotDependOnTheTestSet() {
        let (x, y) = Self.blobs(300, D: 6, seed: 1)
        let (tx, ty) = Self.blobs(90, D: 6, seed: 2)
        let probe = LinearProbe(grid: [1e-3, 1e-2, 1e-1, 1, 10, 100], seed: 4)
        let a = probe.run(trainFeatures: x, trainLabels: y, testFeatures: tx, testLabels: ty, dimension: 6, classCount: 3)
        // Scrambled test labels and other test features: the same search, the same model.
        let b = probe.run(trainFeatures: x, trainLabels: y, testFeatures: tx.map { -$0 }, testLabels: ty.reversed(), dimension: 6, classCount: 3)
        #expect(a.candidates.map(\.validationAccuracy) == b.candidates.map(\.validationAccuracy))
        #expect(a.chosenC == b.chosenC)
        #expect(a.model.weights == b.model.weights)
        #expect(a.candidates.map(\.C) == probe.grid)
        #expect(a.candidates.allSatisfy(\.converged) && a.model.converged)
        #expect(a.report.accuracy > 0.7)
        // The smallest C underfits: its validation log-loss is the worst of the grid.
        #expect(a.candidates[0].validationLogLoss == a.candidates.map(\.validationLogLoss).max())
        // Deterministic.
        let again = probe.run(trainFeatures: x, trainLabels: y, testFeatures: tx, testLabels: ty, dimension: 6, classCount: 3)
        #expect(again.testProbabilities == a.testProbabilities)
    }

    @Test func logisticRegressionIsTheSameForAnyThreadCount() {
        let (x, y) = Self.blobs(2500, D: 5, seed: 3)  // three blocks of 1024 rows
        let z = Standardizer(fitting: x, dimension: 5).transform(x)
        let one = LogisticRegression(fitting: z, labels: y, dimension: 5, classCount: 3, C: 0.1, options: .init(threads: 1))
        let two = LogisticRegression(fitting: z, labels: y, dimension: 5, classCount: 3, C: 0.1, options: .init(threads: 2))
        #expect(one.converged && two.converged)
        #expect(one.weights == two.weights && one.bias == two.bias)
    }

    /// At the optimum the gradient vanishes: Σ (p − onehot) x / N = −W / (C N) and Σ (p − onehot) = 0.
    @Test func logisticRegressionSatisfiesTheOptimalityConditions() {
        let (x, y) = Self.blobs(400, D: 4, seed: 8)
        let C = 0.3, K = 3, D = 4
        let m = LogisticRegression(fitting: x, labels: y, dimension: D, classCount: K, C: C)
        let p = m.predictProbabilities(x)
        for k in 0..<K {
            var gb = 0.0
            var gw = [Double](repeating: 0, count: D)
            for i in 0..<y.count {
                let r = Double(p[i * K + k]) - (y[i] == k ? 1 : 0)
                gb += r
                for d in 0..<D { gw[d] += r * Double(x[i * D + d]) }
            }
            #expect(abs(gb) < 1e-3)
            for d in 0..<D { #expect(abs(gw[d] + m.weights[k * D + d] / C) < 1e-3) }
        }
    }
}
