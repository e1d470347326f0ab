import Foundation

/// Softmax cross-entropy with integer labels, averaged over rows (PyTorch `F.cross_entropy`):
/// `L = −(1/N) Σ_r log softmax(z_r)[y_r]`.
public enum CrossEntropy {
    /// Writes `probs [N, K] = softmax(logits)` per row and returns the mean loss (log-sum-exp in
    /// double precision, so a confident wrong row gives a large finite loss, not infinity).
    /// - Parameters: `logits [N, K]`, `labels [N]` in `0..<K`.
    public static func forward(probs: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, labels: UnsafePointer<Int>,
                               N: Int, K: Int) -> Double {
        var total = 0.0
        for r in 0..<N {
            let z = logits + r * K, p = probs + r * K
            precondition(labels[r] >= 0 && labels[r] < K, "label \(labels[r]) outside 0..<\(K)")
            var mx = -Float.infinity
            for k in 0..<K { mx = max(mx, z[k]) }
            var s = 0.0
            for k in 0..<K { s += Foundation.exp(Double(z[k] - mx)) }
            for k in 0..<K { p[k] = Float(Foundation.exp(Double(z[k] - mx)) / s) }
            total += Foundation.log(s) + Double(mx) - Double(z[labels[r]])
        }
        return N == 0 ? 0 : total / Double(N)
    }

    /// Accumulates `dlogits += scale · (probs − onehot(y)) / N` (the gradient of `scale · L`).
    /// - Parameters: `dlogits [N, K]`, `probs [N, K]` from `forward`, `labels [N]`.
    public static func backward(dlogits: UnsafeMutablePointer<Float>, probs: UnsafePointer<Float>, labels: UnsafePointer<Int>,
                                N: Int, K: Int, scale: Float = 1) {
        let w = scale / Float(max(N, 1))
        for r in 0..<N {
            let p = probs + r * K, d = dlogits + r * K
            for k in 0..<K { d[k] += w * (p[k] - (k == labels[r] ? 1 : 0)) }
        }
    }
}

/// Regression losses averaged over rows, on `predicted [N]` against `target [N]`:
/// squared error `(p − t)²` (PyTorch `mse_loss`) or Huber with threshold δ, `½e²` for `|e| ≤ δ` and
/// `δ(|e| − ½δ)` beyond (PyTorch `huber_loss(delta=δ)`; δ = 1 is `smooth_l1_loss`).
public enum RegressionLoss {
    public enum Kind: Sendable, Equatable {
        case squared
        case huber(delta: Float)
    }

    /// The mean loss.
    public static func forward(predicted: UnsafePointer<Float>, target: UnsafePointer<Float>, N: Int, kind: Kind) -> Double {
        var total = 0.0
        for i in 0..<N {
            let e = Double(predicted[i]) - Double(target[i])
            switch kind {
            case .squared: total += e * e
            case .huber(let delta):
                let d = Double(delta)
                total += abs(e) <= d ? 0.5 * e * e : d * (abs(e) - 0.5 * d)
            }
        }
        return N == 0 ? 0 : total / Double(N)
    }

    /// Accumulates `dpredicted += scale · ∂L/∂p`: `2e / N` (squared), `clamp(e, −δ, δ) / N` (Huber).
    public static func backward(dpredicted: UnsafeMutablePointer<Float>, predicted: UnsafePointer<Float>, target: UnsafePointer<Float>,
                                N: Int, kind: Kind, scale: Float = 1) {
        let w = scale / Float(max(N, 1))
        for i in 0..<N {
            let e = predicted[i] - target[i]
            switch kind {
            case .squared: dpredicted[i] += w * 2 * e
            case .huber(let delta): dpredicted[i] += w * min(max(e, -delta), delta)
            }
        }
    }
}
