/// Accuracy, confusion matrix and one-vs-rest ROC AUC of a K-class classifier.
///
/// Conventions (scikit-learn's): `confusion[t * K + p]` counts rows of true class `t` predicted as
/// `p` (rows true, columns predicted); the AUC of class `c` ranks `scores[:, c]` of class-`c` rows
/// against all other rows, with ties counted half (`roc_auc_score(y == c, scores[:, c])`); the macro
/// AUC is the unweighted mean over the classes whose AUC is defined (`roc_auc_score(...,
/// multi_class="ovr", average="macro")` when every class is present).
public struct ClassificationReport: Sendable {
    public let classCount: Int
    /// Rows evaluated.
    public let count: Int
    /// Share of rows whose prediction equals the label.
    public let accuracy: Double
    /// `[K, K]` counts, rows true, columns predicted.
    public let confusion: [Int]
    /// `[K]` one-vs-rest ROC curves (with their AUC).
    public let roc: [ROCCurve]
    /// Mean of the defined per-class AUCs (NaN if none is).
    public let macroAUC: Double

    /// `[K]` one-vs-rest AUC per class; NaN for a class absent from the labels (or present in all).
    public var auc: [Double] { roc.map(\.auc) }

    /// - Parameters:
    ///   - labels: `[N]` true classes in `0..<classCount`.
    ///   - predictions: `[N]` predicted classes.
    ///   - scores: `[N, K]` per-class scores (probabilities, k-NN votes, ...), higher = more likely.
    public init(labels: [Int], predictions: [Int], scores: [Float], classCount K: Int) {
        precondition(K >= 1 && labels.count == predictions.count && scores.count == labels.count * K, "scores must be [N, K]")
        precondition(labels.allSatisfy { (0..<K).contains($0) } && predictions.allSatisfy { (0..<K).contains($0) },
                     "labels and predictions must lie in 0..<classCount")
        let N = labels.count
        classCount = K
        count = N
        var confusion = [Int](repeating: 0, count: K * K)
        var correct = 0
        for i in 0..<N {
            confusion[labels[i] * K + predictions[i]] += 1
            if labels[i] == predictions[i] { correct += 1 }
        }
        self.confusion = confusion
        accuracy = N == 0 ? .nan : Double(correct) / Double(N)
        roc = (0..<K).map { c in
            ROCCurve(scores: (0..<N).map { Double(scores[$0 * K + c]) }, positives: labels.map { $0 == c })
        }
        let defined = roc.map(\.auc).filter { !$0.isNaN }
        macroAUC = defined.isEmpty ? .nan : defined.reduce(0, +) / Double(defined.count)
    }

    /// The same, predicting the highest-scoring class of each row (the first on ties).
    public init(labels: [Int], scores: [Float], classCount K: Int) {
        precondition(scores.count == labels.count * K, "scores must be [N, K]")
        let predictions = scores.withUnsafeBufferPointer { s in labels.indices.map { Rows.argmax(s.baseAddress! + $0 * K, count: K) } }
        self.init(labels: labels, predictions: predictions, scores: scores, classCount: K)
    }

    /// `[K]` recall per class (the confusion row's diagonal share); NaN for an absent class.
    public var recall: [Double] {
        (0..<classCount).map { t in
            let row = (0..<classCount).reduce(0) { $0 + confusion[t * classCount + $1] }
            return row == 0 ? .nan : Double(confusion[t * classCount + t]) / Double(row)
        }
    }
}
