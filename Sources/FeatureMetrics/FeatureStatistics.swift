import Foundation

/// Collapse indicators of a feature matrix: the spread of each dimension and the effective rank.
///
/// - `meanStd`: the per-dimension standard deviation (population, of the features as given, not
///   normalised), averaged over dimensions. Near 0 means every input maps to (almost) one point.
/// - `effectiveRank` (Roy & Vetterli 2007): with `σ` the singular values of the centred matrix
///   `X − mean`, `p = σ / Σσ` and `H = −Σ p log p`, `erank = exp(H)`, between 1 (one direction)
///   and `min(N, D)` (all directions equally used). Collapse to a few dimensions shows as a small value.
///
/// Singular values come from the eigenvalues of the `[D, D]` scatter matrix `XcᵀXc` (or the `[N, N]`
/// Gram matrix `XcXcᵀ` when `N < D`), accumulated in double precision and diagonalised by Jacobi.
public struct FeatureStatistics: Sendable {
    public let count: Int
    public let dimension: Int
    /// Mean over dimensions of the per-dimension std.
    public let meanStd: Double
    /// `exp(entropy of σ / Σσ)`; NaN when all singular values are 0.
    public let effectiveRank: Double
    /// `[min(N, D)]` singular values of the centred matrix, largest first.
    public let singularValues: [Double]

    /// - Parameter features: `[N, D]` row-major, `N ≥ 1`.
    public init(features: [Float], dimension D: Int) {
        precondition(D > 0 && features.count % D == 0 && !features.isEmpty, "features must be [N, D] with N >= 1")
        let N = features.count / D
        count = N
        dimension = D
        var mean = [Double](repeating: 0, count: D)
        for r in 0..<N { for i in 0..<D { mean[i] += Double(features[r * D + i]) } }
        for i in 0..<D { mean[i] /= Double(N) }

        let n = min(N, D)
        var scatter = [Double](repeating: 0, count: n * n)
        let blockSize = 1024
        scatter.withUnsafeMutableBufferPointer { s in
            if N >= D {
                // XcᵀXc, accumulated over blocks of centred rows.
                var block = [Double](repeating: 0, count: min(N, blockSize) * D)
                block.withUnsafeMutableBufferPointer { b in
                    for start in stride(from: 0, to: N, by: blockSize) {
                        let rows = min(blockSize, N - start)
                        for r in 0..<rows { for i in 0..<D { b[r * D + i] = Double(features[(start + r) * D + i]) - mean[i] } }
                        Matmul.dgemmAtBAccumulate(b.baseAddress!, b.baseAddress!, s.baseAddress!, m: D, n: D, k: rows)
                    }
                }
            } else {
                var xc = [Double](repeating: 0, count: N * D)
                for r in 0..<N { for i in 0..<D { xc[r * D + i] = Double(features[r * D + i]) - mean[i] } }
                xc.withUnsafeBufferPointer { x in Matmul.dgemmABt(x.baseAddress!, x.baseAddress!, s.baseAddress!, m: N, n: N, k: D) }
            }
        }
        var stdSum = 0.0
        for i in 0..<D {
            var s = 0.0
            for r in 0..<N { let d = Double(features[r * D + i]) - mean[i]; s += d * d }
            stdSum += (s / Double(N)).squareRoot()
        }
        meanStd = stdSum / Double(D)
        let sigma = SymmetricEigen.eigenvalues(scatter, n: n).map { max($0, 0).squareRoot() }
        singularValues = sigma
        effectiveRank = Self.effectiveRank(singularValues: sigma)
    }

    /// `exp(−Σ pᵢ log pᵢ)` with `p = σ / Σσ` (terms with `pᵢ = 0` contribute 0).
    public static func effectiveRank(singularValues sigma: [Double]) -> Double {
        let total = sigma.reduce(0, +)
        guard total > 0 else { return .nan }
        var h = 0.0
        for s in sigma where s > 0 {
            let p = s / total
            h -= p * Foundation.log(p)
        }
        return Foundation.exp(h)
    }
}
