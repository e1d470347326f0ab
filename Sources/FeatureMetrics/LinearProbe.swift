import Foundation

/// The linear-probe evaluation of frozen features: standardise, pick `C` on held-out train rows,
/// refit on all train rows, report on test. The test set is never used to choose anything.
///
/// 1. Split train, stratified by label and seeded: `validationFraction` of each class (rounded, at
///    least one row when the class has two or more) is held out.
/// 2. For each `C` of `grid` (increasing, each fit warm-started from the previous one): fit a
///    `Standardizer` and a `LogisticRegression` on the remaining rows, score the held-out rows.
/// 3. Choose the `C` with the best validation accuracy (ties: lower validation log-loss, then the
///    smaller `C`); refit the standardiser and the model on all train rows with it.
/// 4. Predict the test rows and build a `ClassificationReport`.
public struct LinearProbe: Sendable {
    /// Candidate values of `C`, default `10⁻³ … 10²` by decades.
    public var grid: [Double]
    public var validationFraction: Double
    public var seed: UInt64
    public var options: LogisticRegression.Options

    public init(grid: [Double] = [1e-3, 1e-2, 1e-1, 1, 10, 100], validationFraction: Double = 0.2, seed: UInt64 = 0,
                options: LogisticRegression.Options = .init()) {
        precondition(!grid.isEmpty && grid.allSatisfy { $0 > 0 } && (0..<1).contains(validationFraction))
        self.grid = grid.sorted()
        self.validationFraction = validationFraction
        self.seed = seed
        self.options = options
    }

    /// One point of the `C` search.
    public struct Candidate: Sendable {
        public var C: Double
        public var validationAccuracy: Double
        /// Mean `−log p(y)` on the held-out rows.
        public var validationLogLoss: Double
        /// Whether L-BFGS met its tolerance for this `C`.
        public var converged: Bool
    }

    public struct Result: Sendable {
        public var chosenC: Double
        /// One entry per grid value, in increasing `C` (empty when no row could be held out: then `C = 1`).
        public var candidates: [Candidate]
        /// Fitted on all train rows.
        public var standardizer: Standardizer
        public var model: LogisticRegression
        /// `[M, K]` test probabilities.
        public var testProbabilities: [Float]
        public var testPredictions: [Int]
        public var report: ClassificationReport
    }

    /// Runs the protocol.
    /// - Parameters:
    ///   - trainFeatures: `[N, D]`, with `trainLabels` `[N]` in `0..<classCount`.
    ///   - testFeatures: `[M, D]`, with `testLabels` `[M]`.
    public func run(trainFeatures: [Float], trainLabels: [Int], testFeatures: [Float], testLabels: [Int],
                    dimension D: Int, classCount K: Int) -> Result {
        precondition(trainFeatures.count == trainLabels.count * D && testFeatures.count == testLabels.count * D)
        let split = Self.stratifiedSplit(labels: trainLabels, classCount: K, fraction: validationFraction, seed: seed)
        var candidates: [Candidate] = []
        var chosen = 1.0
        if !split.validation.isEmpty && !split.train.isEmpty {
            let fitX = Self.rows(trainFeatures, split.train, D), fitY = split.train.map { trainLabels[$0] }
            let valX = Self.rows(trainFeatures, split.validation, D), valY = split.validation.map { trainLabels[$0] }
            let scaler = Standardizer(fitting: fitX, dimension: D)
            let problem = LogisticProblem(features: scaler.transform(fitX), labels: fitY, dimension: D, classCount: K)
            let valZ = scaler.transform(valX)
            var previous: LogisticRegression?
            for C in grid {
                let model = LogisticRegression(problem: problem, C: C, options: options, warmStart: previous)
                previous = model
                let p = model.predictProbabilities(valZ)
                let report = ClassificationReport(labels: valY, scores: p, classCount: K)
                var logLoss = 0.0
                for (i, y) in valY.enumerated() { logLoss -= Foundation.log(max(Double(p[i * K + y]), 1e-300)) }
                candidates.append(Candidate(C: C, validationAccuracy: report.accuracy, validationLogLoss: logLoss / Double(valY.count),
                                            converged: model.converged))
            }
            // Grid order is increasing C, so the strict comparisons keep the smaller C on a full tie.
            var best = candidates[0]
            for c in candidates.dropFirst() where c.validationAccuracy > best.validationAccuracy
                || (c.validationAccuracy == best.validationAccuracy && c.validationLogLoss < best.validationLogLoss) {
                best = c
            }
            chosen = best.C
        }
        let scaler = Standardizer(fitting: trainFeatures, dimension: D)
        let model = LogisticRegression(fitting: scaler.transform(trainFeatures), labels: trainLabels, dimension: D, classCount: K,
                                       C: chosen, options: options)
        let p = model.predictProbabilities(scaler.transform(testFeatures))
        let report = ClassificationReport(labels: testLabels, scores: p, classCount: K)
        let predictions = p.withUnsafeBufferPointer { s in testLabels.indices.map { Rows.argmax(s.baseAddress! + $0 * K, count: K) } }
        return Result(chosenC: chosen, candidates: candidates, standardizer: scaler, model: model,
                      testProbabilities: p, testPredictions: predictions, report: report)
    }

    /// A seeded split stratified by label: from each class, `round(fraction · n_c)` rows (at least one
    /// when `n_c ≥ 2`, never all of them) go to validation. Both index lists are in increasing order.
    public static func stratifiedSplit(labels: [Int], classCount K: Int, fraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        var rng = SplitMix64(seed: seed)
        var byClass = [[Int]](repeating: [], count: K)
        for (i, y) in labels.enumerated() { byClass[y].append(i) }
        var validation: [Int] = []
        for var members in byClass where members.count >= 2 && fraction > 0 {
            members.seededShuffle(using: &rng)
            let take = min(members.count - 1, max(1, Int((fraction * Double(members.count)).rounded())))
            validation += members[0..<take]
        }
        validation.sort()
        let held = Set(validation)
        return (labels.indices.filter { !held.contains($0) }, validation)
    }

    /// The rows `indices` of `x` (`[N, D]`) -> `[indices.count, D]`.
    static func rows(_ x: [Float], _ indices: [Int], _ D: Int) -> [Float] {
        var out = [Float]()
        out.reserveCapacity(indices.count * D)
        for i in indices { out += x[(i * D)..<((i + 1) * D)] }
        return out
    }
}
