/// Per-feature standardisation `z = (x − mean) / std`, fitted on a train set and applied to any set
/// (scikit-learn's `StandardScaler`: population std, `ddof = 0`).
///
/// A feature whose std is below `minimumStd` (constant, or nearly so) is only centred, as
/// `StandardScaler` does, so it neither divides by zero nor blows noise up.
public struct Standardizer: Sendable {
    /// `[D]` per-feature means of the fitted set.
    public let mean: [Double]
    /// `[D]` the divisors: the std, or 1 where the std is below `minimumStd`.
    public let scale: [Double]
    public var dimension: Int { mean.count }

    /// Fits means and stds on `features` (`[N, D]`, N ≥ 1), in double precision (two passes).
    public init(fitting features: [Float], dimension D: Int, minimumStd: Double = 1e-7) {
        precondition(D > 0 && features.count % D == 0 && features.count > 0, "features must be [N, D] with N >= 1")
        let N = features.count / D
        var mean = [Double](repeating: 0, count: D)
        var sq = [Double](repeating: 0, count: D)
        features.withUnsafeBufferPointer { x in
            for r in 0..<N { for i in 0..<D { mean[i] += Double(x[r * D + i]) } }
            for i in 0..<D { mean[i] /= Double(N) }
            for r in 0..<N {
                for i in 0..<D {
                    let d = Double(x[r * D + i]) - mean[i]
                    sq[i] += d * d
                }
            }
        }
        self.mean = mean
        scale = sq.map { s in
            let std = (s / Double(N)).squareRoot()
            return std < minimumStd ? 1 : std
        }
    }

    /// Builds a standardiser from known means and divisors (both `[D]`).
    public init(mean: [Double], scale: [Double]) {
        precondition(mean.count == scale.count && scale.allSatisfy { $0 > 0 })
        self.mean = mean
        self.scale = scale
    }

    /// `(x − mean) / scale` for every row of `features` (`[M, D]`) -> `[M, D]`.
    public func transform(_ features: [Float]) -> [Float] {
        let D = dimension
        precondition(features.count % D == 0, "features must be [M, D]")
        let inv = scale.map { 1 / $0 }
        var out = [Float](repeating: 0, count: features.count)
        features.withUnsafeBufferPointer { x in
            out.withUnsafeMutableBufferPointer { y in
                for r in 0..<(features.count / D) {
                    for i in 0..<D { y[r * D + i] = Float((Double(x[r * D + i]) - mean[i]) * inv[i]) }
                }
            }
        }
        return out
    }
}
