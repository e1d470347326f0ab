import Foundation

/// Watches for the collapses DINO-style training falls into on lensing stamps, from the teacher's
/// targets and the pooled features of each metrics line:
/// - **uniform**: a head's per-sample teacher entropy stays near log K (every target is flat: the
///   centring beat the sharpening, the head carries nothing);
/// - **one-hot**: the entropy of the batch-mean target stays near 0 (every image gets the same sharp
///   target);
/// - **feature**: the pooled backbone features' standard deviation vanishes (all images map to one point).
/// A warning fires once per kind and head, after `patience` lines in a row.
struct CollapseMonitor {
    let logK: Double
    let entropyShare: Double
    let minFeatureStd: Double
    let patience: Int
    private var streaks: [String: Int] = [:]
    private(set) var fired: Set<String> = []

    init(outDim K: Int, entropyShare: Double, minFeatureStd: Double, patience: Int) {
        logK = Foundation.log(Double(K))
        self.entropyShare = entropyShare
        self.minFeatureStd = minFeatureStd
        self.patience = max(1, patience)
    }

    /// Feeds one measurement; returns the warnings that fire now.
    mutating func observe(viewEntropy: Double, viewMeanEntropy: Double, regionEntropy: Double, regionMeanEntropy: Double,
                          featureStd: Double, viewActive: Bool, regionActive: Bool) -> [String] {
        var conditions: [(String, Bool, String)] = []
        if viewActive {
            conditions.append(("view-uniform", viewEntropy >= entropyShare * logK,
                               String(format: "view head collapsed to uniform targets: teacher entropy %.2f of log K = %.2f", viewEntropy, logK)))
            conditions.append(("view-one-hot", viewMeanEntropy <= (1 - entropyShare) * logK,
                               String(format: "view head collapsed to one target for every image: entropy of the mean target %.2f (log K = %.2f)", viewMeanEntropy, logK)))
        }
        if regionActive {
            conditions.append(("region-uniform", regionEntropy >= entropyShare * logK,
                               String(format: "region head collapsed to uniform targets: teacher entropy %.2f of log K = %.2f", regionEntropy, logK)))
            conditions.append(("region-one-hot", regionMeanEntropy <= (1 - entropyShare) * logK,
                               String(format: "region head collapsed to one target for every token: entropy of the mean target %.2f (log K = %.2f)", regionMeanEntropy, logK)))
        }
        conditions.append(("features", featureStd < minFeatureStd,
                           String(format: "pooled features collapsed: standard deviation %.2e", featureStd)))
        var out: [String] = []
        for (key, bad, message) in conditions {
            streaks[key] = bad ? (streaks[key] ?? 0) + 1 : 0
            if streaks[key]! >= patience && !fired.contains(key) {
                fired.insert(key)
                out.append("collapse warning: " + message + " for \(patience) measurements in a row")
            }
        }
        return out
    }
}
