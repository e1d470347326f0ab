/// Errors of predicted against true values (e.g. the axion mass regressed from features).
///
/// Pairs where either value is not finite are left out (`count` says how many were used).
/// `bias = mean(predicted − true)`; Pearson `r` is NaN when either side has zero variance.
public struct RegressionReport: Sendable {
    public let count: Int
    /// Mean absolute error.
    public let mae: Double
    /// Root mean squared error.
    public let rmse: Double
    /// Mean signed error `predicted − true`.
    public let bias: Double
    /// Pearson correlation of predicted and true values.
    public let pearson: Double

    /// - Parameters: `predicted` and `truth`, both `[N]`.
    public init<T: BinaryFloatingPoint>(predicted: [T], truth: [T]) {
        precondition(predicted.count == truth.count)
        var p: [Double] = [], t: [Double] = []
        for (a, b) in zip(predicted, truth) where a.isFinite && b.isFinite { p.append(Double(a)); t.append(Double(b)) }
        let n = Double(p.count)
        count = p.count
        guard count > 0 else { mae = .nan; rmse = .nan; bias = .nan; pearson = .nan; return }
        var absSum = 0.0, sqSum = 0.0, sum = 0.0
        for i in 0..<count {
            let e = p[i] - t[i]
            absSum += abs(e); sqSum += e * e; sum += e
        }
        mae = absSum / n
        rmse = (sqSum / n).squareRoot()
        bias = sum / n
        let mp = p.reduce(0, +) / n, mt = t.reduce(0, +) / n
        var cov = 0.0, vp = 0.0, vt = 0.0
        for i in 0..<count {
            cov += (p[i] - mp) * (t[i] - mt); vp += (p[i] - mp) * (p[i] - mp); vt += (t[i] - mt) * (t[i] - mt)
        }
        pearson = vp > 0 && vt > 0 ? cov / (vp * vt).squareRoot() : .nan
    }
}
