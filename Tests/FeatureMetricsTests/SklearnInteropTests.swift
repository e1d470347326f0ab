import Foundation
import Testing
import FeatureMetrics
import LensData
import _TestSupport

/// FeatureMetrics against numpy and scikit-learn on the same features (`Tests/helpers/
/// feature_metrics_reference.py`): DINO's k-NN vote, StandardScaler + LogisticRegression(lbfgs),
/// roc_auc_score, confusion_matrix and the effective rank from np.linalg.svd.
@Suite struct SklearnInteropTests {
    // nonisolated(unsafe): written once by the lazy initialiser, read-only afterwards.
    nonisolated(unsafe) static let reference: (dir: String, json: [String: Any]) = {
        let dir = TestSupport.tempDir("feature-metrics")
        _ = try! TestSupport.pythonHelper("feature_metrics_reference.py", [dir])
        return (dir, try! TestSupport.json(String(decoding: FileManager.default.contents(atPath: dir + "/reference.json")!, as: UTF8.self)))
    }()

    struct Case {
        var ref: [String: Any]
        var K: Int, D: Int
        var trainX: [Float], trainY: [Int], testX: [Float], testY: [Int]
        func doubles(_ key: String) -> [Double] { (ref[key] as! [NSNumber]).map(\.doubleValue) }
        func ints(_ key: String) -> [Int] { (ref[key] as! [NSNumber]).map(\.intValue) }
        func number(_ key: String) -> Double { (ref[key] as! NSNumber).doubleValue }
    }

    static func floats(_ name: String) throws -> [Float] { try NPYFile.readNumbers(path: reference.dir + "/\(name).npy").map { Float($0) } }
    static func labels(_ name: String) throws -> [Int] { try NPYFile.readNumbers(path: reference.dir + "/\(name).npy").map { Int($0) } }

    static func load(_ name: String) throws -> Case {
        let ref = reference.json[name] as! [String: Any]
        return Case(ref: ref, K: ref["K"] as! Int, D: ref["D"] as! Int,
                    trainX: try floats(name + "_train_x"), trainY: try labels(name + "_train_y"),
                    testX: try floats(name + "_test_x"), testY: try labels(name + "_test_y"))
    }

    static func maxDiff(_ a: [Double], _ b: [Double]) -> Double {
        precondition(a.count == b.count)
        return zip(a, b).map { abs($0 - $1) }.max() ?? 0
    }

    @Test(arguments: ["blobs3", "blobs2"])
    func knnMatchesDINOVoteInNumpy(_ name: String) throws {
        let c = try Self.load(name)
        let knn = KNNClassifier(trainFeatures: c.trainX, trainLabels: c.trainY, dimension: c.D, classCount: c.K,
                                k: c.ref["k"] as! Int, temperature: c.number("T"))
        let result = knn.classify(c.testX)
        #expect(result.predictions == c.ints("knn_predictions"))
        let scoreDiff = Self.maxDiff(result.scores.map(Double.init), c.doubles("knn_scores"))
        let report = ClassificationReport(labels: c.testY, predictions: result.predictions, scores: result.scores, classCount: c.K)
        let aucDiff = Self.maxDiff(report.auc, c.doubles("knn_auc"))
        print("\(name) k-NN: max |score diff| \(scoreDiff), max |AUC diff| \(aucDiff), accuracy \(report.accuracy)")
        #expect(scoreDiff < 1e-5)
        #expect(abs(report.accuracy - c.number("knn_accuracy")) < 1e-12)  // same predictions; the mean may round differently
        #expect(report.confusion == c.ints("knn_confusion"))
        #expect(aucDiff < 1e-3)
    }

    /// The centred k-NN (CL2N) against numpy's vote on `x − mean(train x)`.
    @Test(arguments: ["blobs3", "blobs2"])
    func centredKnnMatchesNumpy(_ name: String) throws {
        let c = try Self.load(name)
        let knn = KNNClassifier(trainFeatures: c.trainX, trainLabels: c.trainY, dimension: c.D, classCount: c.K,
                                k: c.ref["k"] as! Int, temperature: c.number("T"), centred: true)
        let result = knn.classify(c.testX)
        #expect(result.predictions == c.ints("knn_centred_predictions"))
        #expect(Self.maxDiff(result.scores.map(Double.init), c.doubles("knn_centred_scores")) < 1e-5)
    }

    @Test(arguments: ["blobs3", "blobs2"])
    func logisticRegressionMatchesScikitLearn(_ name: String) throws {
        let c = try Self.load(name)
        let scaler = Standardizer(fitting: c.trainX, dimension: c.D)
        #expect(Self.maxDiff(scaler.mean, c.doubles("scaler_mean")) < 1e-9)
        #expect(Self.maxDiff(scaler.scale, c.doubles("scaler_scale")) < 1e-9)
        let model = LogisticRegression(fitting: scaler.transform(c.trainX), labels: c.trainY, dimension: c.D, classCount: c.K, C: c.number("C"))
        #expect(model.converged)
        let p = model.predictProbabilities(scaler.transform(c.testX))
        let probDiff = Self.maxDiff(p.map(Double.init), c.doubles("lr_probabilities"))
        let report = ClassificationReport(labels: c.testY, scores: p, classCount: c.K)
        let aucDiff = Self.maxDiff(report.auc, c.doubles("lr_auc"))
        print("\(name) logistic regression: \(model.iterations) L-BFGS iterations, max |p diff| \(probDiff), max |AUC diff| \(aucDiff), "
              + "macro AUC \(report.macroAUC) vs \(c.number("lr_macro_auc"))")
        #expect(probDiff < 1e-3)
        #expect(abs(report.accuracy - c.number("lr_accuracy")) < 1e-12)
        #expect(report.confusion == c.ints("lr_confusion"))
        #expect(aucDiff < 1e-3)
        #expect(abs(report.macroAUC - c.number("lr_macro_auc")) < 1e-3)
    }

    /// The probe protocol with a one-value grid refits on all of train: scikit-learn's model at that C.
    @Test func linearProbeWithOneCandidateIsScikitLearnsModel() throws {
        let c = try Self.load("blobs3")
        let probe = LinearProbe(grid: [c.number("C")])
        let r = probe.run(trainFeatures: c.trainX, trainLabels: c.trainY, testFeatures: c.testX, testLabels: c.testY,
                          dimension: c.D, classCount: c.K)
        #expect(r.chosenC == c.number("C"))
        #expect(r.candidates.count == 1)
        let diff = Self.maxDiff(r.testProbabilities.map(Double.init), c.doubles("lr_probabilities"))
        print("linear probe (one C): max |p diff| \(diff)")
        #expect(diff < 1e-3)
        #expect(abs(r.report.accuracy - c.number("lr_accuracy")) < 1e-12)
        #expect(r.report.confusion == c.ints("lr_confusion"))
    }

    @Test func aucWithManyTiesMatchesRocAucScore() throws {
        let ref = Self.reference.json["tied"] as! [String: Any]
        let K = ref["K"] as! Int
        let report = ClassificationReport(labels: try Self.labels("tied_y"), scores: try Self.floats("tied_scores"), classCount: K)
        let expected = (ref["auc"] as! [NSNumber]).map(\.doubleValue)
        let diff = Self.maxDiff(report.auc, expected)
        print("tied scores: max |AUC diff| \(diff)")
        #expect(diff < 1e-12)
        #expect(abs(report.macroAUC - (ref["macro_auc"] as! NSNumber).doubleValue) < 1e-12)
    }

    @Test(arguments: ["blobs3", "blobs2", "lowrank", "lowrank-few"])
    func effectiveRankMatchesNumpySVD(_ name: String) throws {
        let x: [Float], D: Int, ref: [String: Any], prefix: String
        if name.hasPrefix("lowrank") {
            ref = Self.reference.json["lowrank"] as! [String: Any]
            D = ref["D"] as! Int
            let all = try Self.floats("lowrank_x")
            prefix = name == "lowrank" ? "" : "few_"
            x = name == "lowrank" ? all : Array(all[0..<((ref["few_rows"] as! Int) * D)])
        } else {
            let c = try Self.load(name)
            (x, D, ref, prefix) = (c.trainX, c.D, c.ref, "")
        }
        let stats = FeatureStatistics(features: x, dimension: D)
        let erank = (ref[prefix + "effective_rank"] as! NSNumber).doubleValue
        let sv = (ref[prefix + "singular_values"] as! [NSNumber]).map(\.doubleValue)
        let rel = abs(stats.effectiveRank - erank) / erank
        print("\(name): effective rank \(stats.effectiveRank) vs numpy \(erank), relative diff \(rel)")
        #expect(rel < 1e-3)
        // The singular values themselves, relative to the largest (numpy returns min(N, D) of them).
        #expect(Self.maxDiff(stats.singularValues, sv) / sv[0] < 1e-6)
        if prefix.isEmpty {
            #expect(abs(stats.meanStd - (ref["mean_std"] as! NSNumber).doubleValue) < 1e-9)
        }
    }
}
