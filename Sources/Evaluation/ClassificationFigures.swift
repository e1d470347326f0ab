import FeatureMetrics
import Foundation
import Render

/// The two figures of a classification result: `roc.png` (one-vs-rest ROC curve per class, AUC in the
/// legend) and `confusion.png` (rows true, columns predicted). `eval` draws them for the linear probe,
/// `finetune` for the fine-tuned network.
public enum ClassificationFigures {
    /// Writes `DIR/roc.png` and `DIR/confusion.png`; returns their paths.
    /// - Parameter subject: what was scored, at the start of both titles ("Linear probe, test set").
    @discardableResult
    public static func write(_ report: ClassificationReport, classNames names: [String], subject: String, to dir: String) throws -> (roc: String, confusion: String) {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        let curves = report.roc.enumerated().map { c, roc -> ROCChart.Curve in
            let s = roc.simplified()
            return ROCChart.Curve(label: names[c], falsePositiveRate: s.falsePositiveRate, truePositiveRate: s.truePositiveRate, auc: roc.auc)
        }
        let paths = (roc: dir + "/roc.png", confusion: dir + "/confusion.png")
        try ROCChart(title: String(format: "%@ (macro AUC %.3f)", subject, report.macroAUC), curves: curves).writePNG(path: paths.roc)
        try ConfusionMatrixChart(title: String(format: "%@ (accuracy %.3f)", subject, report.accuracy), classNames: names,
                                 counts: report.confusion).writePNG(path: paths.confusion)
        return paths
    }
}
