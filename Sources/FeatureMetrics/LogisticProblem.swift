import Foundation

/// The data of a logistic-regression fit, in double precision, and its L2-penalised objective.
///
/// Parameters `θ = [W (P×D), b (P)]` where `P = K` free classes, except `P = 1` for `K = 2`: the
/// binary model has one weight vector, the logit of class 0 is pinned at 0 (scikit-learn's binary
/// parameterisation; a symmetric two-class softmax would halve the effective penalty).
///
/// Objective, per train row (the mean keeps tolerances independent of N):
///
///     f(θ) = (1/N) Σᵢ −log softmax(Wxᵢ + b)[yᵢ]  +  ‖W‖² / (2 C N)
///
/// which has the minimiser of scikit-learn's `Σᵢ loss + ‖W‖² / (2C)`; the bias is not penalised.
struct LogisticProblem {
    /// `[N, D]` features in double precision.
    let x: [Double]
    /// `[N]` in `0..<K`.
    let labels: [Int]
    let N: Int, D: Int, K: Int
    /// Rows per block: partial sums are per block and added in block order, so the result does not
    /// depend on the thread count.
    static let blockSize = 1024

    /// Free classes: 1 for a binary problem, K otherwise.
    var P: Int { K == 2 ? 1 : K }
    var parameterCount: Int { P * (D + 1) }

    init(features: [Float], labels: [Int], dimension D: Int, classCount K: Int) {
        precondition(K >= 2, "logistic regression needs at least two classes")
        precondition(D > 0 && features.count == labels.count * D && !labels.isEmpty, "features must be [N, D] with N >= 1")
        precondition(labels.allSatisfy { (0..<K).contains($0) }, "labels must lie in 0..<classCount")
        x = features.map(Double.init)
        self.labels = labels
        N = labels.count
        self.D = D
        self.K = K
    }

    /// `f(θ)`, and `∇f(θ)` written into `gradient` (`[P·(D+1)]`).
    func objective(_ theta: [Double], C: Double, gradient: inout [Double], threads: Int) -> Double {
        let P = self.P, D = self.D, K = self.K, width = P * (D + 1)
        let blocks = ParallelBlocks.blockCount(N, blockSize: Self.blockSize)
        var partialLoss = [Double](repeating: 0, count: blocks)
        var partialGrad = [Double](repeating: 0, count: blocks * width)
        x.withUnsafeBufferPointer { x in
            theta.withUnsafeBufferPointer { theta in
                labels.withUnsafeBufferPointer { labels in
                    partialLoss.withUnsafeMutableBufferPointer { loss in
                        partialGrad.withUnsafeMutableBufferPointer { grad in
                            nonisolated(unsafe) let (x, theta, labels, loss, grad) = (x, theta, labels, loss, grad)
                            ParallelBlocks.forEach(N, blockSize: Self.blockSize, threads: threads) { b, rows in
                                let n = rows.count
                                let r = UnsafeMutablePointer<Double>.allocate(capacity: n * P)
                                defer { r.deallocate() }
                                let xb = x.baseAddress! + rows.lowerBound * D
                                Self.logits(xb, theta.baseAddress!, into: r, n: n, P: P, D: D)
                                var full = [Double](repeating: 0, count: K)
                                var blockLoss = 0.0
                                let gb = grad.baseAddress! + b * width
                                for i in 0..<n {
                                    let y = labels[rows.lowerBound + i]
                                    let z = r + i * P
                                    if P == 1 { full[0] = 0; full[1] = z[0] } else { for c in 0..<K { full[c] = z[c] } }
                                    let lse = Self.softmaxInPlace(&full)
                                    blockLoss += lse - (P == 1 ? (y == 1 ? z[0] : 0) : z[y])
                                    full[y] -= 1  // residual softmax − onehot
                                    if P == 1 { z[0] = full[1] } else { for c in 0..<K { z[c] = full[c] } }
                                    for c in 0..<P { gb[P * D + c] += z[c] }
                                }
                                loss[b] = blockLoss
                                // gradW[P, D] += Rᵀ[P, n] · X[n, D]
                                Matmul.dgemmAtBAccumulate(r, xb, gb, m: P, n: D, k: n)
                            }
                        }
                    }
                }
            }
        }
        for i in 0..<width { gradient[i] = 0 }
        var total = 0.0
        for b in 0..<blocks {
            total += partialLoss[b]
            for i in 0..<width { gradient[i] += partialGrad[b * width + i] }
        }
        let invN = 1 / Double(N), penalty = 1 / (C * Double(N))
        var w2 = 0.0
        for i in 0..<width { gradient[i] *= invN }
        for i in 0..<(P * D) {
            w2 += theta[i] * theta[i]
            gradient[i] += penalty * theta[i]
        }
        return total * invN + 0.5 * penalty * w2
    }

    /// `z[n, P] = x[n, D] · Wᵀ + b` for `θ = [W (P×D), b (P)]`.
    static func logits(_ x: UnsafePointer<Double>, _ theta: UnsafePointer<Double>, into z: UnsafeMutablePointer<Double>, n: Int, P: Int, D: Int) {
        Matmul.dgemmABt(x, theta, z, m: n, n: P, k: D)
        for i in 0..<n { for c in 0..<P { z[i * P + c] += theta[P * D + c] } }
    }

    /// Replaces `v` by `softmax(v)` and returns `log Σ exp(v)` (max-shifted).
    @discardableResult
    static func softmaxInPlace(_ v: inout [Double]) -> Double {
        let m = v.max()!
        var s = 0.0
        for c in 0..<v.count { v[c] = Foundation.exp(v[c] - m); s += v[c] }
        for c in 0..<v.count { v[c] /= s }
        return m + Foundation.log(s)
    }
}
