/// The frozen-feature protocol, the one `eval` reports and `train`'s monitor tracks (DINO's
/// `eval_knn.py` and `eval_linear.py` on the same features): the weighted k-NN vote of `test` against
/// `train` (cosine, k, temperature), the same vote on features centred by the train mean, and the
/// linear probe (`LinearProbe`: C chosen on a validation part of train).
public struct FrozenScores: Sendable {
    public var knn: ClassificationReport
    public var knnCentred: ClassificationReport
    /// Nil when the probe was not asked for.
    public var probe: LinearProbe.Result?

    /// - Parameters: features `[N, dimension]` row-major with their labels in `0..<classCount`;
    ///   `probeSeed` the probe's validation split; `threads` the k-NN's (nil: its default);
    ///   `probeFeatures` other features of the same samples for the probe (EsViT's last blocks; nil: the same).
    public init(train: [Float], trainLabels: [Int], test: [Float], testLabels: [Int], dimension: Int, classCount: Int,
                k: Int, temperature: Double, probe: Bool = true, probeSeed: UInt64 = 0, threads: Int? = nil,
                probeFeatures: (train: [Float], test: [Float], dimension: Int)? = nil) {
        func vote(centred: Bool) -> ClassificationReport {
            let r = KNNClassifier(trainFeatures: train, trainLabels: trainLabels, dimension: dimension, classCount: classCount,
                                  k: k, temperature: temperature, centred: centred).classify(test, threads: threads)
            return ClassificationReport(labels: testLabels, predictions: r.predictions, scores: r.scores, classCount: classCount)
        }
        knn = vote(centred: false)
        knnCentred = vote(centred: true)
        let p = probeFeatures ?? (train, test, dimension)
        self.probe = probe
            ? LinearProbe(seed: probeSeed).run(trainFeatures: p.train, trainLabels: trainLabels, testFeatures: p.test, testLabels: testLabels,
                                              dimension: p.dimension, classCount: classCount)
            : nil
    }
}
