import Cropping
import FeatureMetrics
import Foundation
import LensData
import MiniTrain
import ShardWriter

/// The splits a run reads: `train` (required) and `val` (for the k-NN monitor), from a lenspipe output
/// folder, or one MDS folder used as the training set.
struct TrainingData {
    let trainFolder: String
    let valFolder: String?
    let train: MDSReader
    let val: MDSReader?
    let channels: Int
    let height: Int
    let width: Int
    /// The normalisation the stored images carry (from `lenspipe.json`), for views of shards without
    /// a `foreground` column.
    let stretch: Normalization
    /// The train split's normalisation as its `lenspipe.json` records it (nil: not recorded).
    public let normalization: Normalization?
    /// The stored images' sky-zero radius (nil: off), recorded in checkpoints beside the normalisation.
    public let skyZero: Int?
    /// Class names (`lenspipe.json`), empty when unknown.
    let classes: [String]

    init(shards: String) throws {
        let fm = FileManager.default
        if fm.fileExists(atPath: shards + "/index.json") {
            trainFolder = shards
            valFolder = nil
        } else if fm.fileExists(atPath: shards + "/train/index.json") {
            trainFolder = shards + "/train"
            valFolder = fm.fileExists(atPath: shards + "/val/index.json") ? shards + "/val" : nil
        } else {
            throw TrainError("\(shards): neither an MDS folder (index.json) nor a lenspipe output with train/index.json (run lenspipe preprocess first)")
        }
        train = try MDSReader(folder: trainFolder)
        val = try valFolder.map { try MDSReader(folder: $0) }
        guard train.count > 0 else { throw TrainError("\(trainFolder): the train split is empty") }
        guard train.shards[0].columns.names.contains("image") else { throw TrainError("\(trainFolder): no 'image' column") }
        let first = try ShardSample(try train.sample(at: 0), index: 0)
        (channels, height, width) = (first.image.channels, first.image.height, first.image.width)
        let source = try MDSSource(folder: trainFolder)
        normalization = source.normalization
        skyZero = source.skyZero
        stretch = normalization ?? .none
        classes = source.classes
    }
}

/// k-NN accuracy of `val` against `train` on the teacher's pooled features (k = 20, T = 0.07, cosine,
/// weighted vote, as DINO's `eval_knn.py`), on evenly spaced subsets of both splits; and, with
/// `recipe.monitor.probe`, the linear probe's accuracy and macro AUC on the same features (`eval`'s
/// protocol): masked-image modelling's features are linearly, not cosine-, separable (docs/science.md,
/// tenth session), so the k-NN alone misreads such a run.
final class KNNMonitor {
    let trainImages: [LensImage], trainLabels: [Int]
    let valImages: [LensImage], valLabels: [Int]
    let classCount: Int
    let k: Int
    let temperature: Double
    let probe: Bool
    var trainCount: Int { trainImages.count }
    var valCount: Int { valImages.count }

    /// Nil when the data have no labels or no `val` split.
    init?(data: TrainingData, recipe: TrainRecipe) throws {
        guard let val = data.val, val.count > 0 else { return nil }
        /// `n` samples spread evenly over the split, when every one is labelled.
        func pick(_ reader: MDSReader, _ n: Int) throws -> ([LensImage], [Int])? {
            let count = min(n, reader.count)
            guard count > 0 else { return nil }
            let split = try LabelledSplit(reader: reader, indices: (0..<count).map { $0 * reader.count / count })
            let labels = split.labels.compactMap { $0 }
            return labels.count == count ? (split.images, labels) : nil
        }
        defer { data.train.dropCache(); val.dropCache() }  // the training loop reads through its own ShardOrder
        guard let (ti, tl) = try pick(data.train, recipe.monitor.knnTrain), let (vi, vl) = try pick(val, recipe.monitor.knnVal) else { return nil }
        (trainImages, trainLabels, valImages, valLabels) = (ti, tl, vi, vl)
        classCount = max(data.classes.count, (tl + vl).max()! + 1)
        k = recipe.monitor.knnK
        temperature = recipe.monitor.knnTemperature
        probe = recipe.monitor.probe
    }

    /// The k-NN accuracy of val against train on the teacher's features: DINO's vote, and the same vote
    /// on features centred by the train features' mean (`KNNClassifier(centred:)`).
    func accuracy(trainer: EsViTTrainer, size: Int) -> Scores {
        // The embedding passes reuse the heap the step memory held (one step re-allocates it afterwards):
        // a monitor pass beside a kept step memory raised the peak RSS by a fifth.
        trainer.releaseStepMemory()
        let extractor = FeatureExtractor(network: trainer.network, arena: trainer.teacher, size: size)
        let D = trainer.config.finalDim
        let train = extractor.features(trainImages), val = extractor.features(valImages)
        let finite = train.allSatisfy { $0.isFinite } && val.allSatisfy { $0.isFinite }
        let s = FrozenScores(train: train, trainLabels: trainLabels, test: val, testLabels: valLabels, dimension: D, classCount: classCount,
                             k: k, temperature: temperature, probe: probe && finite, threads: KernelThreads.count)
        var scores = Scores(plain: s.knn.accuracy, centred: s.knnCentred.accuracy)
        if let r = s.probe {
            scores.probeAccuracy = r.report.accuracy
            scores.probeAUC = r.report.macroAUC.isFinite ? r.report.macroAUC : nil
        }
        return scores
    }

    /// One monitor pass: the k-NN accuracies and, with `monitor.probe`, the linear probe's.
    struct Scores {
        var plain: Double
        var centred: Double
        var probeAccuracy: Double?
        var probeAUC: Double?

        /// The `metrics.jsonl` fields.
        var record: [String: Any] {
            var r: [String: Any] = ["knn_accuracy": plain, "knn_centred_accuracy": centred]
            if let probeAccuracy { r["probe_accuracy"] = probeAccuracy }
            if let probeAUC { r["probe_auc"] = probeAUC }
            return r
        }

        var line: String {
            String(format: "k-NN accuracy %.4f, centred %.4f", plain, centred)
                + (probeAccuracy.map { String(format: "; probe accuracy %.4f, macro AUC %.4f", $0, probeAUC ?? .nan) } ?? "")
        }
    }
}
