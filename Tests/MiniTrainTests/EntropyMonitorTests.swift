import Foundation
import Testing
import LensData
@testable import MiniTrain

/// The teacher-entropy monitors (`EsViTLoss.entropies`) take one log per row, from the logits, not
/// one per element: they must equal `−Σ p log p` of the softmax targets.
@Suite struct EntropyMonitorTests {
    /// Rows of logits from sharp (near one-hot) to flat, with a centre, at the teacher temperatures used.
    @Test(arguments: [Float(0.04), 0.01, 1])
    func entropiesEqualMinusSumPLogP(temperature: Float) {
        let rows = 12, K = 257
        var rng = Philox4x64(seed: 11, stream: UInt64(temperature * 1000))
        let logits = (0..<(rows * K)).map { i in Float(rng.normal()) * Float(1 + i / K) * 0.2 }
        let shift = (0..<K).map { _ in Float(rng.normal()) * 0.1 }
        var p = [Float](repeating: 0, count: rows * K)
        Softmax.forward(&p, logits, shift: shift, temperature: temperature, N: rows, K: K)
        let (h, mean) = EsViTLoss.entropies(p, logits: logits, shift: shift, temperature: temperature, rows: rows, K: K)
        var expected = 0.0
        var expectedMean = [Double](repeating: 0, count: K)
        for r in 0..<rows {
            for k in 0..<K {
                let v = Double(p[r * K + k])
                if v > 0 { expected -= v * log(v) }
                expectedMean[k] += v / Double(rows)
            }
        }
        expected /= Double(rows)
        #expect(abs(h - expected) < 1e-4 * max(1, expected), "\(h) vs \(expected)")
        #expect(zip(mean, expectedMean).allSatisfy { abs($0 - $1) < 1e-12 })
    }

    @Test func uniformRowsHaveEntropyLogK() {
        let rows = 3, K = 64
        let logits = [Float](repeating: 0.5, count: rows * K), shift = [Float](repeating: 0, count: K)
        var p = [Float](repeating: 0, count: rows * K)
        Softmax.forward(&p, logits, shift: shift, temperature: 0.04, N: rows, K: K)
        let (h, _) = EsViTLoss.entropies(p, logits: logits, shift: shift, temperature: 0.04, rows: rows, K: K)
        #expect(abs(h - log(Double(K))) < 1e-5)
    }
}
