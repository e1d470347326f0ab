import Foundation

/// Weighted k-nearest-neighbour classification on cosine similarity, as DINO's `eval_knn.py`
/// (Caron et al. 2021; Wu et al. 2018) evaluates frozen features.
///
/// Train and test features are L2-normalised, so the similarity `s = ⟨x̂, t̂⟩` is the cosine. For each
/// test row the `k` most similar train rows vote for their labels with weight `exp(s / T)`; the
/// prediction is the class with the largest vote. The vote divided by its sum is returned as a
/// per-class score in [0, 1] (usable for ROC AUC).
///
///     let knn = KNNClassifier(trainFeatures: xs, trainLabels: ys, dimension: 128, classCount: 3)
///     let result = knn.classify(testFeatures)         // result.predictions [M], result.scores [M, 3]
///
/// `centred: true` subtracts the train rows' mean from train and test rows before the L2 normalisation
/// (SimpleShot's "CL2N", Wang et al. 2019). Cosine similarity is not invariant to a shift: when every
/// feature shares a large common part (mean-pooled tokens of stamps that are mostly the same sky,
/// whose cosine to their mean is 0.99+), the plain similarities are all near 1 and the neighbours are
/// ranked mostly by how much of that common part a row carries. Centring compares what differs.
///
/// Performance: similarities come from `sgemm` on blocks of test rows, split over `threads` workers
/// (OpenBLAS runs one thread each); memory is one `[B, N_train]` block per worker.
public struct KNNClassifier: Sendable {
    /// Neighbours per vote (DINO's default 20). When the train set is smaller, all train rows vote.
    public var k: Int
    /// Temperature `T` of the vote weights `exp(s / T)` (DINO's default 0.07).
    public var temperature: Double
    public let classCount: Int
    public let dimension: Int
    /// `[N_train, D]`, L2-normalised rows.
    public let trainFeatures: [Float]
    /// `[N_train]` in `0..<classCount`.
    public let trainLabels: [Int]
    /// `[D]`: the train rows' mean, subtracted from every row before normalising (`centred: true`); nil otherwise.
    public let mean: [Float]?

    /// - Parameters:
    ///   - trainFeatures: `[N_train, D]` row-major, not necessarily normalised.
    ///   - trainLabels: `[N_train]`, each in `0..<classCount`.
    ///   - centred: subtract the train rows' mean first (CL2N).
    public init(trainFeatures: [Float], trainLabels: [Int], dimension: Int, classCount: Int, k: Int = 20, temperature: Double = 0.07,
                centred: Bool = false) {
        precondition(dimension > 0 && trainFeatures.count == trainLabels.count * dimension, "trainFeatures must be [N, D]")
        precondition(!trainLabels.isEmpty, "k-NN needs at least one train row")
        precondition(trainLabels.allSatisfy { (0..<classCount).contains($0) }, "train labels must lie in 0..<classCount")
        precondition(k >= 1 && temperature > 0)
        let mean = centred ? Rows.mean(trainFeatures, dimension: dimension) : nil
        self.mean = mean
        self.trainFeatures = Rows.l2Normalized(mean.map { Rows.subtracting($0, from: trainFeatures) } ?? trainFeatures, dimension: dimension)
        self.trainLabels = trainLabels
        self.dimension = dimension
        self.classCount = classCount
        self.k = k
        self.temperature = temperature
    }

    /// Predictions and per-class scores for a set of test rows.
    public struct Result: Sendable {
        /// `[M]`: the class with the largest weighted vote (the lowest class index on ties).
        public var predictions: [Int]
        /// `[M, K]`: each row's votes divided by their sum.
        public var scores: [Float]
    }

    /// Classifies `testFeatures` (`[M, D]`, not necessarily normalised) on `threads` workers (default: every core).
    public func classify(_ testFeatures: [Float], threads: Int? = nil) -> Result {
        precondition(testFeatures.count % dimension == 0, "testFeatures must be [M, D]")
        let D = dimension, K = classCount, M = testFeatures.count / D, N = trainLabels.count
        let kk = min(k, N)
        let test = Rows.l2Normalized(mean.map { Rows.subtracting($0, from: testFeatures) } ?? testFeatures, dimension: D)
        // Rows per block: at most 256, and at most ~4M similarities (16 MB) per block.
        let blockSize = max(1, min(256, (1 << 22) / N))
        var predictions = [Int](repeating: 0, count: M)
        var scores = [Float](repeating: 0, count: M * K)
        let T = temperature
        trainFeatures.withUnsafeBufferPointer { train in
            trainLabels.withUnsafeBufferPointer { labels in
                test.withUnsafeBufferPointer { test in
                    predictions.withUnsafeMutableBufferPointer { pred in
                        scores.withUnsafeMutableBufferPointer { scores in
                            nonisolated(unsafe) let (train, labels, test, pred, scores) = (train, labels, test, pred, scores)
                            ParallelBlocks.forEach(M, blockSize: blockSize, threads: threads ?? ParallelBlocks.defaultThreads) { _, rows in
                                let sim = UnsafeMutablePointer<Float>.allocate(capacity: rows.count * N)
                                defer { sim.deallocate() }
                                Matmul.sgemmABt(test.baseAddress! + rows.lowerBound * D, train.baseAddress!, sim, m: rows.count, n: N, k: D)
                                var top = TopK(k: kk)
                                var votes = [Double](repeating: 0, count: K)
                                for (j, r) in rows.enumerated() {
                                    top.reset()
                                    let s = sim + j * N
                                    for i in 0..<N { top.offer(s[i], index: i) }
                                    // exp((s - s_max) / T): the same normalised vote as exp(s / T), without overflow.
                                    let sMax = Double(top.values[0])
                                    for c in 0..<K { votes[c] = 0 }
                                    for n in 0..<top.count {
                                        votes[labels[top.indices[n]]] += Foundation.exp((Double(top.values[n]) - sMax) / T)
                                    }
                                    let total = votes.reduce(0, +)
                                    var best = 0
                                    for c in 0..<K {
                                        scores[r * K + c] = Float(votes[c] / total)
                                        if votes[c] > votes[best] { best = c }
                                    }
                                    pred[r] = best
                                }
                            }
                        }
                    }
                }
            }
        }
        return Result(predictions: predictions, scores: scores)
    }
}

/// The `k` largest values seen so far, in descending order; on equal values the earlier index wins
/// (a stable descending sort would keep the same neighbours).
struct TopK {
    let k: Int
    var values: [Float]
    var indices: [Int]
    var count = 0

    init(k: Int) {
        self.k = k
        values = [Float](repeating: -.infinity, count: k)
        indices = [Int](repeating: 0, count: k)
    }

    mutating func reset() { count = 0 }

    @inline(__always) mutating func offer(_ v: Float, index: Int) {
        if count == k {
            guard v > values[k - 1] else { return }
        } else {
            count += 1
        }
        // Insert below every value >= v (stable for ties).
        var p = count - 1
        while p > 0 && values[p - 1] < v {
            values[p] = values[p - 1]; indices[p] = indices[p - 1]
            p -= 1
        }
        values[p] = v; indices[p] = index
    }
}
