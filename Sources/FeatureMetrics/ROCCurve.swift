/// A one-vs-rest ROC curve: the (false positive rate, true positive rate) reached by thresholding a
/// score at each of its distinct values, highest first, starting at (0, 0) and ending at (1, 1).
///
/// Tied scores form a single step (one point), so the area under the trapezoids equals the
/// Mann–Whitney probability `P(s⁺ > s⁻) + ½ P(s⁺ = s⁻)`: scikit-learn's `roc_auc_score`.
public struct ROCCurve: Sendable {
    /// `[n]` false positive rates, non-decreasing from 0 to 1.
    public let falsePositiveRate: [Double]
    /// `[n]` true positive rates, non-decreasing from 0 to 1.
    public let truePositiveRate: [Double]
    /// `[n]` the score threshold of each point (`score >= threshold` is called positive); `+inf` first.
    public let thresholds: [Double]
    /// Area under the curve; NaN when there are no positives or no negatives, or a score is NaN (then
    /// the curve is the diagonal's two ends: a NaN score has no place in the order).
    public let auc: Double

    /// - Parameters:
    ///   - scores: `[N]` higher means "more positive".
    ///   - positives: `[N]` the true membership.
    public init(scores: [Double], positives: [Bool]) {
        precondition(scores.count == positives.count)
        guard !scores.contains(where: \.isNaN) else {
            (falsePositiveRate, truePositiveRate, thresholds, auc) = ([0, 1], [0, 1], [.infinity, -.infinity], .nan)
            return
        }
        let order = scores.indices.sorted { scores[$0] > scores[$1] || (scores[$0] == scores[$1] && $0 < $1) }
        let nPos = positives.filter { $0 }.count, nNeg = positives.count - nPos
        var tp = 0, fp = 0
        var fprs = [0.0], tprs = [0.0], ths = [Double.infinity]
        var i = 0
        while i < order.count {
            let s = scores[order[i]]
            while i < order.count && scores[order[i]] == s {  // one point per distinct score
                if positives[order[i]] { tp += 1 } else { fp += 1 }
                i += 1
            }
            fprs.append(nNeg > 0 ? Double(fp) / Double(nNeg) : .nan)
            tprs.append(nPos > 0 ? Double(tp) / Double(nPos) : .nan)
            ths.append(s)
        }
        falsePositiveRate = fprs
        truePositiveRate = tprs
        thresholds = ths
        if nPos == 0 || nNeg == 0 {
            auc = .nan
        } else {
            var area = 0.0
            for j in 1..<fprs.count { area += (fprs[j] - fprs[j - 1]) * (tprs[j] + tprs[j - 1]) / 2 }
            auc = area
        }
    }

    /// The curve without points that lie on the straight line between their neighbours (what
    /// scikit-learn's `drop_intermediate=True` keeps): the same area, fewer points to draw.
    public func simplified() -> (falsePositiveRate: [Double], truePositiveRate: [Double]) {
        let x = falsePositiveRate, y = truePositiveRate
        guard x.count > 2 else { return (x, y) }
        var kx = [x[0]], ky = [y[0]]
        for j in 1..<(x.count - 1) {
            let collinear = (x[j] - kx.last!) * (y[j + 1] - ky.last!) == (y[j] - ky.last!) * (x[j + 1] - kx.last!)
            if !collinear { kx.append(x[j]); ky.append(y[j]) }
        }
        kx.append(x.last!); ky.append(y.last!)
        return (kx, ky)
    }
}
