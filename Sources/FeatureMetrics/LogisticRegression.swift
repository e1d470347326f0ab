/// Multinomial logistic (softmax) regression with an L2 penalty on the weights, fitted full-batch
/// with L-BFGS: the linear probe of self-supervised features.
///
/// `C` follows scikit-learn: the fit minimises `Σᵢ −log p(yᵢ | xᵢ) + ‖W‖² / (2C)`, the bias
/// unpenalised, so results match `sklearn.linear_model.LogisticRegression(C=C, solver="lbfgs")`
/// (binary problems use one weight vector, as scikit-learn does). Standardise features first
/// (`Standardizer`): the penalty and the optimiser both assume comparable scales.
///
///     let model = LogisticRegression(fitting: z, labels: y, dimension: 64, classCount: 3, C: 1)
///     let p = model.predictProbabilities(zTest)      // [M, 3]
///
/// Deterministic: the same data and options give the same bits for any thread count.
public struct LogisticRegression: Sendable {
    /// Optimiser settings.
    public struct Options: Sendable {
        public var maxIterations: Int
        /// Stop when every entry of the gradient of the mean objective is at most this.
        public var gradientTolerance: Double
        /// Workers for the objective (default: every core).
        public var threads: Int?
        public init(maxIterations: Int = 5000, gradientTolerance: Double = 1e-9, threads: Int? = nil) {
            self.maxIterations = maxIterations
            self.gradientTolerance = gradientTolerance
            self.threads = threads
        }
    }

    public let C: Double
    public let classCount: Int
    public let dimension: Int
    /// `[P, D]` weights, `P = classCount` (or 1 for two classes: the logit of class 1 minus class 0).
    public let weights: [Double]
    /// `[P]` intercepts.
    public let bias: [Double]
    /// L-BFGS iterations used, whether a tolerance test stopped it, and the final mean objective.
    public let iterations: Int
    public let converged: Bool
    public let objective: Double

    /// Fits on `features` (`[N, D]`) and `labels` (`[N]` in `0..<classCount`), from zero weights or
    /// from `warmStart` (a model of the same shape, e.g. the previous `C` of a grid).
    public init(fitting features: [Float], labels: [Int], dimension: Int, classCount: Int, C: Double = 1,
                options: Options = Options(), warmStart: LogisticRegression? = nil) {
        self.init(problem: LogisticProblem(features: features, labels: labels, dimension: dimension, classCount: classCount),
                  C: C, options: options, warmStart: warmStart)
    }

    init(problem: LogisticProblem, C: Double, options: Options, warmStart: LogisticRegression?) {
        precondition(C > 0, "C must be positive")
        var x0 = [Double](repeating: 0, count: problem.parameterCount)
        if let w = warmStart, w.classCount == problem.K, w.dimension == problem.D { x0 = w.weights + w.bias }
        let threads = options.threads ?? ParallelBlocks.defaultThreads
        let solver = LBFGS(maxIterations: options.maxIterations, gradientTolerance: options.gradientTolerance)
        let out = solver.minimize(from: x0) { theta, g in problem.objective(theta, C: C, gradient: &g, threads: threads) }
        let PD = problem.P * problem.D
        self.C = C
        classCount = problem.K
        dimension = problem.D
        weights = Array(out.x[0..<PD])
        bias = Array(out.x[PD...])
        iterations = out.iterations
        converged = out.converged
        objective = out.f
    }

    /// Class probabilities `[M, K]` for `features` (`[M, D]`).
    public func predictProbabilities(_ features: [Float]) -> [Float] {
        let D = dimension, K = classCount, P = K == 2 ? 1 : K
        precondition(features.count % D == 0, "features must be [M, D]")
        let M = features.count / D
        guard M > 0 else { return [] }
        let x = features.map(Double.init), theta = weights + bias
        var z = [Double](repeating: 0, count: M * P)
        x.withUnsafeBufferPointer { x in
            theta.withUnsafeBufferPointer { t in
                z.withUnsafeMutableBufferPointer { LogisticProblem.logits(x.baseAddress!, t.baseAddress!, into: $0.baseAddress!, n: M, P: P, D: D) }
            }
        }
        var out = [Float](repeating: 0, count: M * K)
        var row = [Double](repeating: 0, count: K)
        for i in 0..<M {
            if P == 1 { row[0] = 0; row[1] = z[i] } else { for c in 0..<K { row[c] = z[i * K + c] } }
            LogisticProblem.softmaxInPlace(&row)
            for c in 0..<K { out[i * K + c] = Float(row[c]) }
        }
        return out
    }

    /// The most probable class of each row of `features` (`[M, D]`) -> `[M]`.
    public func predict(_ features: [Float]) -> [Int] {
        let p = predictProbabilities(features), K = classCount
        return p.withUnsafeBufferPointer { p in (0..<(p.count / K)).map { Rows.argmax(p.baseAddress! + $0 * K, count: K) } }
    }
}
