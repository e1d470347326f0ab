import Foundation

/// Entropies (in nats) of the rows of a probability matrix `[N, K]`: the two numbers that tell a
/// DINO head's collapse modes apart (Caron et al. 2021, §5.3).
///
/// - `meanRowEntropy`: `(1/N) Σᵢ H(pᵢ)`. Near 0 means sharp, confident outputs; near `log K`, uniform ones.
/// - `entropyOfMean`: `H((1/N) Σᵢ pᵢ)`. Near 0 means every row picks the same class (collapse to one
///   dimension); `log K` means the batch uses all classes evenly.
///
/// Collapse to the uniform distribution shows as both near `log K`; collapse to one class as both
/// near 0; a healthy head has a low mean row entropy and a high entropy of the mean.
/// `0 log 0` is taken as 0.
public enum Entropy {
    /// `H(p) = −Σ p log p` of one distribution (`[K]`).
    public static func entropy<C: Collection>(_ p: C) -> Double where C.Element: BinaryFloatingPoint {
        var h = 0.0
        for v in p where v > 0 { let d = Double(v); h -= d * Foundation.log(d) }
        return h
    }

    /// Mean over rows of the entropy of each row of `probabilities` (`[N, K]`); NaN for N = 0.
    public static func meanRowEntropy(_ probabilities: [Float], classCount K: Int) -> Double {
        precondition(K > 0 && probabilities.count % K == 0, "probabilities must be [N, K]")
        let N = probabilities.count / K
        guard N > 0 else { return .nan }
        var total = 0.0
        for i in 0..<N { total += entropy(probabilities[(i * K)..<((i + 1) * K)]) }
        return total / Double(N)
    }

    /// Entropy of the mean row of `probabilities` (`[N, K]`); NaN for N = 0.
    public static func entropyOfMean(_ probabilities: [Float], classCount K: Int) -> Double {
        precondition(K > 0 && probabilities.count % K == 0, "probabilities must be [N, K]")
        let N = probabilities.count / K
        guard N > 0 else { return .nan }
        var mean = [Double](repeating: 0, count: K)
        for i in 0..<N { for c in 0..<K { mean[c] += Double(probabilities[i * K + c]) } }
        return entropy(mean.map { $0 / Double(N) })
    }
}
