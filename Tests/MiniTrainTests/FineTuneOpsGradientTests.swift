import Foundation
import Testing
import LensData
@testable import MiniTrain

/// The fine-tuning ops (cross-entropy, regression losses, the linear head on pooled tokens) against
/// central finite differences, as `GradientCheckTests` does for the pre-training kernels; plus their
/// values against direct formulas.
@Suite struct FineTuneOpsGradientTests {
    typealias G = GradientCheckTests

    @Test func crossEntropy() {
        var rng = Philox4x64(seed: 21, stream: 0)
        let (N, K) = (5, 4)
        let labels = [0, 3, 1, 1, 2]
        let inputs = [G.random(N * K, &rng, scale: 2)]
        G.check(inputs, [1], h: 1e-3, forward: { x in
            var p = [Float](repeating: 0, count: N * K)
            return [Float(CrossEntropy.forward(probs: &p, logits: x[0], labels: labels, N: N, K: K))]
        }, backward: { x, g in
            var p = [Float](repeating: 0, count: N * K), d = [Float](repeating: 0, count: N * K)
            _ = CrossEntropy.forward(probs: &p, logits: x[0], labels: labels, N: N, K: K)
            CrossEntropy.backward(dlogits: &d, probs: p, labels: labels, N: N, K: K, scale: g[0])
            return [d]
        })
        // The value: −mean log softmax at the label, and probabilities that sum to 1.
        var p = [Float](repeating: 0, count: N * K)
        let loss = CrossEntropy.forward(probs: &p, logits: inputs[0], labels: labels, N: N, K: K)
        var expected = 0.0
        for r in 0..<N {
            let z = (0..<K).map { Double(inputs[0][r * K + $0]) }
            expected -= z[labels[r]] - Foundation.log(z.map { Foundation.exp($0) }.reduce(0, +))
            #expect(abs((0..<K).reduce(Float(0)) { $0 + p[r * K + $1] } - 1) < 1e-6)
        }
        #expect(abs(loss - expected / Double(N)) < 1e-6)
        // A confident mistake stays finite.
        var q = [Float](repeating: 0, count: 2)
        #expect(CrossEntropy.forward(probs: &q, logits: [200, -200], labels: [1], N: 1, K: 2).isFinite)
    }

    @Test(arguments: [RegressionLoss.Kind.squared, .huber(delta: 1), .huber(delta: 0.3)])
    func regressionLoss(kind: RegressionLoss.Kind) {
        var rng = Philox4x64(seed: 22, stream: 0)
        let N = 12
        let target = G.random(N, &rng)
        // Predictions away from the Huber kinks at |e| = δ (a finite difference across one is not a derivative).
        var predicted = G.random(N, &rng, scale: 1.5)
        if case .huber(let delta) = kind {
            for i in 0..<N where abs(abs(predicted[i] - target[i]) - delta) < 0.05 { predicted[i] += 0.2 }
        }
        G.check([predicted], [1], h: 1e-3, forward: { x in
            [Float(RegressionLoss.forward(predicted: x[0], target: target, N: N, kind: kind))]
        }, backward: { x, g in
            var d = [Float](repeating: 0, count: N)
            RegressionLoss.backward(dpredicted: &d, predicted: x[0], target: target, N: N, kind: kind, scale: g[0])
            return [d]
        })
        // Values by hand: mean squared error, and Huber's two pieces.
        #expect(abs(RegressionLoss.forward(predicted: [1, 4], target: [0, 0], N: 2, kind: .squared) - 8.5) < 1e-12)
        #expect(abs(RegressionLoss.forward(predicted: [0.5, 3], target: [0, 0], N: 2, kind: .huber(delta: 1)) - (0.125 + 2.5) / 2) < 1e-12)
    }

    /// Pooling plus the linear layer, with respect to the tokens, the weight and the bias.
    @Test func linearHeadOnPooledTokens() {
        var rng = Philox4x64(seed: 23, stream: 0)
        let (B, L, D, K) = (3, 4, 6, 5)
        let inputs = [G.random(B * L * D, &rng), G.random(K * D, &rng), G.random(K, &rng)]
        G.check(inputs, G.random(B * K, &rng), forward: { x in
            var out = [Float](repeating: 0, count: B * K), pooled = [Float](repeating: 0, count: B * D)
            LinearHead.forward(&out, pooled: &pooled, tokens: x[0], weight: x[1], bias: x[2], B: B, L: L, D: D, K: K)
            return out
        }, backward: { x, g in
            var out = [Float](repeating: 0, count: B * K), pooled = [Float](repeating: 0, count: B * D)
            LinearHead.forward(&out, pooled: &pooled, tokens: x[0], weight: x[1], bias: x[2], B: B, L: L, D: D, K: K)
            var dt = [Float](repeating: 0, count: B * L * D), dw = [Float](repeating: 0, count: K * D), db = [Float](repeating: 0, count: K)
            LinearHead.backward(dtokens: &dt, dweight: &dw, dbias: &db, doutputs: g, pooled: pooled, weight: x[1], B: B, L: L, D: D, K: K)
            return [dt, dw, db]
        })
        // The arena form agrees with the kernel and accumulates (a second backward doubles the gradients).
        let head = LinearHead(inputs: D, outputs: K)
        let arena = ParameterArena(layout: head.layout)
        arena.value("head.weight").update(from: inputs[1], count: K * D)
        arena.value("head.bias").update(from: inputs[2], count: K)
        let cache = head.forward(arena, tokens: inputs[0], batch: B, tokens: L)
        let g = G.random(B * K, &rng)
        _ = head.backward(arena, cache: cache, doutputs: g)
        let once = Array(UnsafeBufferPointer(start: arena.grads, count: arena.count))
        _ = head.backward(arena, cache: cache, doutputs: g)
        #expect(zip(UnsafeBufferPointer(start: arena.grads, count: arena.count), once).allSatisfy { abs($0 - 2 * $1) <= 1e-5 * max(1, abs($1)) })
    }
}
