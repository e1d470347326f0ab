import Foundation
import Testing
@testable import FeatureMetrics

/// Pure-Swift checks of the metrics on cases with known answers.
@Suite struct MetricsUnitTests {
    @Test func aucOfAPerfectAndAnInvertedClassifier() {
        let positives = [false, false, true, true, false, true]
        let perfect = ROCCurve(scores: [0.1, 0.2, 0.9, 0.8, 0.3, 0.7], positives: positives)
        #expect(perfect.auc == 1)
        #expect(perfect.falsePositiveRate.first == 0 && perfect.truePositiveRate.first == 0)
        #expect(perfect.falsePositiveRate.last == 1 && perfect.truePositiveRate.last == 1)
        let inverted = ROCCurve(scores: [0.9, 0.8, 0.1, 0.2, 0.7, 0.3], positives: positives)
        #expect(inverted.auc == 0)
    }

    @Test func aucOfARandomClassifierIsAboutOneHalf() {
        var rng = SplitMix64(seed: 3)
        let n = 20000
        let scores = (0..<n).map { _ in Double(rng.next() >> 11) / Double(1 << 53) }
        let positives = (0..<n).map { _ in rng.next() & 1 == 0 }
        let roc = ROCCurve(scores: scores, positives: positives)
        #expect(abs(roc.auc - 0.5) < 0.02)
        // All scores equal: one step from (0, 0) to (1, 1), AUC exactly 1/2.
        let tied = ROCCurve(scores: [Double](repeating: 0.4, count: 10), positives: (0..<10).map { $0 < 3 })
        #expect(tied.auc == 0.5)
        #expect(tied.falsePositiveRate == [0, 1] && tied.truePositiveRate == [0, 1])
    }

    /// Ties count one half: the AUC equals the Mann–Whitney statistic with average ranks.
    @Test func tiesCountOneHalfAsInMannWhitney() {
        let scores: [Double] = [0.5, 0.5, 0.3, 0.5, 0.9, 0.3, 0.1, 0.5]
        let positives = [true, false, true, false, true, false, false, true]
        var pairs = 0.0, wins = 0.0
        for i in scores.indices where positives[i] {
            for j in scores.indices where !positives[j] {
                pairs += 1
                wins += scores[i] > scores[j] ? 1 : scores[i] == scores[j] ? 0.5 : 0
            }
        }
        let roc = ROCCurve(scores: scores, positives: positives)
        #expect(abs(roc.auc - wins / pairs) < 1e-15)
        #expect(roc.thresholds.count == 5)  // +inf and the four distinct scores
        let simple = roc.simplified()
        #expect(simple.falsePositiveRate.first == 0 && simple.falsePositiveRate.last == 1)
    }

    @Test func aucIsUndefinedWithoutBothClasses() {
        #expect(ROCCurve(scores: [0.1, 0.2], positives: [true, true]).auc.isNaN)
        let report = ClassificationReport(labels: [0, 0, 1], scores: [0.9, 0.1, 0.8, 0.2, 0.3, 0.7], classCount: 2)
        #expect(report.accuracy == 1)
        #expect(report.confusion == [2, 0, 0, 1])
        #expect(report.macroAUC == 1)
    }

    @Test func confusionRowsAreTrueColumnsPredicted() {
        let report = ClassificationReport(labels: [0, 0, 1, 2, 2, 2], predictions: [0, 1, 1, 2, 0, 2],
                                          scores: [Float](repeating: 1.0 / 3, count: 18), classCount: 3)
        #expect(report.confusion == [1, 1, 0,
                                     0, 1, 0,
                                     1, 0, 2])
        #expect(abs(report.accuracy - 4.0 / 6) < 1e-12)
        #expect(report.recall[2] == 2.0 / 3)
        #expect(report.auc == [0.5, 0.5, 0.5])
    }

    @Test func entropyOfUniformIsLogK() {
        for K in [2, 7, 1024] {
            let uniform = [Float](repeating: 1 / Float(K), count: 5 * K)
            #expect(abs(Entropy.meanRowEntropy(uniform, classCount: K) - log(Double(K))) < 1e-5)
            #expect(abs(Entropy.entropyOfMean(uniform, classCount: K) - log(Double(K))) < 1e-5)
        }
        // One-hot rows on different classes: sharp rows, spread batch.
        let K = 4
        var oneHot = [Float](repeating: 0, count: K * K)
        for i in 0..<K { oneHot[i * K + i] = 1 }
        #expect(Entropy.meanRowEntropy(oneHot, classCount: K) == 0)
        #expect(abs(Entropy.entropyOfMean(oneHot, classCount: K) - log(4.0)) < 1e-12)
        // All rows the same one-hot: collapse, both 0.
        let collapsed = [Float]((0..<K).flatMap { _ in [1, 0, 0, 0] as [Float] })
        #expect(Entropy.entropyOfMean(collapsed, classCount: K) == 0)
    }

    @Test func knnWithKLargerThanTheTrainSetUsesEveryRow() {
        // Three train rows; k = 20 → all of them vote, weighted by exp(cos / T).
        let train: [Float] = [1, 0, 0, 1, -1, 0]
        let knn = KNNClassifier(trainFeatures: train, trainLabels: [0, 1, 1], dimension: 2, classCount: 3, k: 20, temperature: 0.5)
        let result = knn.classify([2, 0.5], threads: 1)
        let c = 2 / (4.25 as Float).squareRoot(), s = 0.5 / (4.25 as Float).squareRoot()
        let w = [exp(Double(c) / 0.5), exp(Double(s) / 0.5), exp(-Double(c) / 0.5)]
        let total = w.reduce(0, +)
        #expect(result.predictions == [0])
        #expect(abs(Double(result.scores[0]) - w[0] / total) < 1e-6)
        #expect(abs(Double(result.scores[1]) - (w[1] + w[2]) / total) < 1e-6)
        #expect(result.scores[2] == 0)
    }

    /// `centred: true` is the plain vote on rows minus the train rows' mean (the test rows get the
    /// train mean too, not their own), and it changes the vote when the rows share a large offset.
    @Test func centringSubtractsTheTrainMean() {
        var rng = SplitMix64(seed: 12)
        let D = 6, N = 120, M = 40
        let uniform = { (rng: inout SplitMix64) -> Float in Float(Double(rng.next() >> 11) / Double(1 << 53)) - 0.5 }
        // Every row shares an offset of 3 along the first axis; the test rows are shifted further.
        let train = (0..<(N * D)).map { i in uniform(&rng) + (i % D == 0 ? 3 : 0) }
        let test = (0..<(M * D)).map { i in uniform(&rng) + (i % D == 0 ? 3.5 : 0) }
        let labels = (0..<N).map { $0 % 3 }
        let mean = (0..<D).map { d in (0..<N).reduce(Float(0)) { $0 + train[$1 * D + d] } / Float(N) }
        let centred = KNNClassifier(trainFeatures: train, trainLabels: labels, dimension: D, classCount: 3, k: 7, centred: true)
        for d in 0..<D { #expect(abs(centred.mean![d] - mean[d]) < 1e-5) }
        let byHand = KNNClassifier(trainFeatures: train.enumerated().map { $1 - mean[$0 % D] }, trainLabels: labels, dimension: D, classCount: 3, k: 7)
        let a = centred.classify(test, threads: 1), b = byHand.classify(test.enumerated().map { $1 - mean[$0 % D] }, threads: 1)
        #expect(a.predictions == b.predictions)
        for (x, y) in zip(a.scores, b.scores) { #expect(abs(x - y) < 1e-5) }
        let plain = KNNClassifier(trainFeatures: train, trainLabels: labels, dimension: D, classCount: 3, k: 7)
        #expect(plain.mean == nil && plain.classify(test, threads: 1).scores != a.scores)
    }

    @Test func knnIsTheSameForAnyThreadCount() {
        var rng = SplitMix64(seed: 11)
        let D = 8, N = 300, M = 97
        let gauss = { (rng: inout SplitMix64) -> Float in Float(Double(rng.next() >> 11) / Double(1 << 53)) - 0.5 }
        let train = (0..<(N * D)).map { _ in gauss(&rng) }, test = (0..<(M * D)).map { _ in gauss(&rng) }
        let labels = (0..<N).map { $0 % 4 }
        let knn = KNNClassifier(trainFeatures: train, trainLabels: labels, dimension: D, classCount: 4, k: 5)
        let one = knn.classify(test, threads: 1), three = knn.classify(test, threads: 3)
        #expect(one.predictions == three.predictions)
        #expect(one.scores == three.scores)
        for i in 0..<M { #expect(abs(one.scores[(i * 4)..<(i * 4 + 4)].reduce(0, +) - 1) < 1e-5) }
    }

    @Test func standardizerCentresScalesAndKeepsConstantFeatures() {
        let x: [Float] = [1, 5, 10,
                          3, 5, 20,
                          5, 5, 30]
        let s = Standardizer(fitting: x, dimension: 3)
        #expect(s.mean == [3, 5, 20])
        #expect(abs(s.scale[0] - (8.0 / 3).squareRoot()) < 1e-12)
        #expect(s.scale[1] == 1)  // constant feature: centred only
        let z = s.transform(x)
        #expect(z[1] == 0 && z[4] == 0 && z[7] == 0)
        #expect(abs(z[0] + z[3] + z[6]) < 1e-6)
        #expect(abs(z[2] * z[2] + z[5] * z[5] + z[8] * z[8] - 3) < 1e-5)
    }

    @Test func regressionReportByHand() {
        let r = RegressionReport(predicted: [1.0, 2.0, 4.0, .nan], truth: [1.0, 3.0, 3.0, 2.0])
        #expect(r.count == 3)
        #expect(abs(r.mae - 2.0 / 3) < 1e-12)
        #expect(abs(r.rmse - (2.0 / 3).squareRoot()) < 1e-12)
        #expect(r.bias == 0)
        #expect(abs(r.pearson - (24.0 / 42).squareRoot()) < 1e-12)  // cov 24/9, variances 42/9 and 24/9
        let perfect = RegressionReport(predicted: [Float(1), 2, 3], truth: [2, 4, 6])
        #expect(abs(perfect.pearson - 1) < 1e-12)
    }

    @Test func effectiveRankOfKnownSpectra() {
        // Isotropic in 4 dimensions: rows ±e_i → four equal singular values, erank 4.
        var x = [Float]()
        for i in 0..<4 {
            var plus = [Float](repeating: 0, count: 4); plus[i] = 1
            x += plus; x += plus.map { -$0 }
        }
        let iso = FeatureStatistics(features: x, dimension: 4)
        #expect(abs(iso.effectiveRank - 4) < 1e-9)
        // All rows on one line: erank 1.
        let line = (0..<10).flatMap { i in [Float(i), 2 * Float(i), -Float(i)] }
        #expect(abs(FeatureStatistics(features: line, dimension: 3).effectiveRank - 1) < 1e-6)
        // Fewer rows than dimensions uses the Gram matrix: 3 rows → at most 2 centred directions.
        let few: [Float] = [1, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1, 0, 0]
        let s = FeatureStatistics(features: few, dimension: 5)
        #expect(s.singularValues.count == 3)
        #expect(abs(s.effectiveRank - 2) < 1e-6)
        #expect(FeatureStatistics.effectiveRank(singularValues: [3, 1, 0]) < 2)
    }

    @Test func jacobiEigenvaluesOfAKnownMatrix() {
        // [[2, 1], [1, 2]] → 3, 1; a diagonal matrix → its diagonal, sorted.
        #expect(SymmetricEigen.eigenvalues([2, 1, 1, 2], n: 2).map { ($0 * 1e12).rounded() / 1e12 } == [3, 1])
        #expect(SymmetricEigen.eigenvalues([1, 0, 0, 0, 5, 0, 0, 0, 3], n: 3) == [5, 3, 1])
        // Trace and Frobenius norm are preserved on a random symmetric 40×40 matrix.
        var rng = SplitMix64(seed: 5)
        let n = 40
        var a = [Double](repeating: 0, count: n * n)
        for i in 0..<n { for j in i..<n { let v = Double(rng.next() >> 11) / Double(1 << 53) - 0.5; a[i * n + j] = v; a[j * n + i] = v } }
        let ev = SymmetricEigen.eigenvalues(a, n: n)
        let trace = (0..<n).reduce(0.0) { $0 + a[$1 * n + $1] }
        #expect(abs(ev.reduce(0, +) - trace) < 1e-10)
        #expect(abs(ev.reduce(0) { $0 + $1 * $1 } - a.reduce(0) { $0 + $1 * $1 }) < 1e-10)
    }

    /// The one seeded shuffle: Fisher-Yates from the end with `next() % (i + 1)`, pinned to the
    /// permutation a Python transcription of SplitMix64 and the same loop gives (seed 42, 0..<10), so a
    /// change of algorithm cannot pass unnoticed.
    @Test func seededShuffleIsPinnedFisherYates() {
        var rng = SplitMix64(seed: 42)
        var a = Array(0..<10)
        a.seededShuffle(using: &rng)
        #expect(a == [0, 9, 5, 8, 6, 4, 7, 2, 1, 3])
        var slice = Array(0..<10)[2..<6]  // a slice shuffles its own indices only
        var again = SplitMix64(seed: 42)
        slice.seededShuffle(using: &again)
        #expect(slice.sorted() == [2, 3, 4, 5] && slice.startIndex == 2)
    }
}
