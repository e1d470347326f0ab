/// Standardisation of the pooled features before the view head, with running statistics (a batch norm
/// without affine parameters whose statistics are those of the previous steps, not of this batch).
///
/// Why: the mean-pooled features of lensing stamps are nearly one vector (cosine 0.997 between every
/// image's feature and their mean; docs/science.md, sixth session), because most final-stage tokens
/// are sky. The view head then sees an almost constant input, its logits differ little between images,
/// the teacher's centring removes what is common, and its targets are uniform. Subtracting the running
/// mean and dividing by the running standard deviation per channel hands the head the differences.
///
/// The statistics come from earlier steps, so each image's forward needs nothing from the other images
/// of its batch (lanes stay independent, 1 and 2 threads give the same numbers), and they are constants
/// in the backward pass: `dx = dy · invStd`.
public enum RunningStandardize {
    /// `out[n, c] = (x[n, c] - mean[c]) · invStd[c]` for `x [N, C]`.
    public static func forward(_ out: inout [Float], _ x: [Float], mean: [Float], invStd: [Float], N: Int, C: Int) {
        precondition(x.count == N * C && mean.count == C && invStd.count == C)
        if out.count != N * C { out = [Float](repeating: 0, count: N * C) }
        for n in 0..<N {
            let o = n * C
            for c in 0..<C { out[o + c] = (x[o + c] - mean[c]) * invStd[c] }
        }
    }

    /// In place, the gradient of the output `[N, C]` becomes that of the input: `d[n, c] · invStd[c]`
    /// (the statistics are constants of the step).
    public static func backward(_ d: inout [Float], invStd: [Float], N: Int, C: Int) {
        precondition(d.count == N * C && invStd.count == C)
        for n in 0..<N {
            let o = n * C
            for c in 0..<C { d[o + c] *= invStd[c] }
        }
    }
}

/// Running per-channel moments `E[x]` and `E[x²]` of features `[N, C]`, moved once per step towards the
/// batch's moments: `m ← momentum · m + (1 − momentum) · batch`. They start at mean 0 and variance 1,
/// so the first steps standardise by nearly nothing.
public struct RunningMoments: Sendable, Equatable {
    public var mean: [Double]
    public var meanSquare: [Double]
    /// Added to the variance before the square root.
    public static let eps = 1e-5

    public init(channels C: Int) {
        mean = [Double](repeating: 0, count: C)
        meanSquare = [Double](repeating: 1, count: C)
    }

    public init(mean: [Double], meanSquare: [Double]) {
        precondition(mean.count == meanSquare.count)
        self.mean = mean
        self.meanSquare = meanSquare
    }

    /// Moves towards the moments of the rows `sums` were taken over (nothing when there were none).
    public mutating func update(_ sums: MomentSums, momentum: Double) {
        guard sums.rows > 0 else { return }
        for c in mean.indices {
            mean[c] = momentum * mean[c] + (1 - momentum) * sums.sum[c] / Double(sums.rows)
            meanSquare[c] = momentum * meanSquare[c] + (1 - momentum) * sums.sumSquares[c] / Double(sums.rows)
        }
    }

    /// The forward pass's constants: `mean` and `1 / sqrt(var + eps)`, `var = E[x²] − E[x]²` (at least 0).
    public var standardizer: (mean: [Float], invStd: [Float]) {
        let m = mean.map { Float($0) }
        let s = mean.indices.map { c in Float(1 / (max(0, meanSquare[c] - mean[c] * mean[c]) + Self.eps).squareRoot()) }
        return (m, s)
    }
}

/// Per-channel sums of `x` and of `x²` over the rows of features `[N, C]`, what `RunningMoments.update`
/// takes. Sums of parts add up (`add`); adding them in a fixed order keeps the totals deterministic.
public struct MomentSums: Sendable, Equatable {
    public var sum: [Double]
    public var sumSquares: [Double]
    public var rows: Int

    /// No rows yet.
    public init(channels C: Int) {
        sum = [Double](repeating: 0, count: C)
        sumSquares = [Double](repeating: 0, count: C)
        rows = 0
    }

    /// The sums over the rows of `x [N, C]`.
    public init(_ x: [Float], N: Int, C: Int) {
        precondition(x.count == N * C)
        self.init(channels: C)
        for n in 0..<N {
            for c in 0..<C {
                let v = Double(x[n * C + c])
                sum[c] += v
                sumSquares[c] += v * v
            }
        }
        rows = N
    }

    public mutating func add(_ o: MomentSums) {
        precondition(o.sum.count == sum.count)
        for c in sum.indices {
            sum[c] += o.sum[c]
            sumSquares[c] += o.sumSquares[c]
        }
        rows += o.rows
    }
}
