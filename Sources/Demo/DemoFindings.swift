import Evaluation
import FineTune
import Foundation

/// The report's findings, in words computed from the measured numbers (never fixed text): how the
/// pre-trained features compare with random init and raw pixels, what pre-training did to the
/// fine-tune with few labels, and where the attention goes.
enum DemoFindings {
    static func signed(_ x: Double) -> String { String(format: "%+.3f", x) }

    /// "beat" or "lost to" with the margin, for a difference `a - b` (ties within 0.0005 are ties).
    static func versus(_ a: Double, _ b: Double, _ what: String, _ whom: String) -> String {
        let d = a - b
        if abs(d) < 0.0005 { return "matched \(whom) on \(what) (\(String(format: "%.3f", a)))" }
        return (d > 0 ? "beat " : "lost to ") + "\(whom) on \(what) by \(String(format: "%.3f", abs(d))) (\(String(format: "%.3f", a)) against \(String(format: "%.3f", b)))"
    }

    static func evaluation(_ rows: [FrozenEvaluation.Row]) -> String {
        guard let trained = rows.first else { return "" }
        var parts: [String] = []
        for row in rows.dropFirst() {
            let whom = row.features
            parts.append("The pre-trained features " + versus(trained.probeMacroAUC, row.probeMacroAUC, "the linear probe's macro AUC", whom)
                         + " and " + versus(trained.knnAccuracy, row.knnAccuracy, "k-NN accuracy", whom) + ".")
        }
        return parts.joined(separator: " ")
    }

    static func labelEfficiency(_ points: [LabelEfficiency.Point]) -> String {
        points.compactMap { p -> String? in
            guard let a = p.accuracyGain, let u = p.macroAUCGain else { return nil }
            let verdict = a > 0 && u > 0 ? "pre-training saved labels" : (a < 0 && u < 0 ? "pre-training cost accuracy and AUC" : "the two starts split")
            return String(format: "With %g%% of the train labels (%d images), ", 100 * p.fraction, p.trainImages)
                + "the pre-trained start is \(signed(a)) accuracy and \(signed(u)) macro AUC against scratch: \(verdict)."
        }.joined(separator: " ")
    }

    static func attention(_ r: AttentionStudy.Report) -> String {
        func x(_ v: Double?) -> String { v.map { String(format: "%.2fx", $0) } ?? "n/a" }
        var s = "Attention on the lens: \(x(r.meanRatio)) its share of the area over \(r.images.count) test images"
        if let m = r.meanRatio { s += m > 1.05 ? " (the model looks at the lens more than a uniform map would)." : (m < 0.95 ? " (less than a uniform map: it looks away from the lens)." : " (no preference).") }
        let ranked = r.classes.filter { $0.ratioMean != nil }.sorted { $0.ratioMean! > $1.ratioMean! }
        if let top = ranked.first, let bottom = ranked.last, ranked.count > 1 {
            s += " Per class, highest for \(top.label) (\(x(top.ratioMean))), lowest for \(bottom.label) (\(x(bottom.ratioMean)))."
        }
        if !r.overTraining.isEmpty {
            s += " Over training: " + r.overTraining.map { "\($0.stage) \(x($0.meanRatio))" }.joined(separator: ", ") + "."
        }
        return s
    }
}
