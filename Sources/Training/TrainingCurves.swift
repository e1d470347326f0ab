import Foundation
import Render

/// `RUN/curves.png`: loss (view and region parts), the teacher entropies of both heads against log K,
/// and the monitor (k-NN accuracy, the linear probe's accuracy and AUC), each against the step.
enum TrainingCurves {
    static func draw(metrics: [[String: Any]], logK: Double, to path: String) throws {
        func series(_ key: String, _ label: String, scale: Double = 1) -> ChartSeries {
            let rows = metrics.filter { $0[key] is Double && $0["step"] is Int }
            return ChartSeries(label: label, x: rows.map { Double($0["step"] as! Int) }, y: rows.map { ($0[key] as! Double) * scale })
        }
        let steps = metrics.compactMap { $0["step"] as? Int }.map(Double.init)
        let span = [steps.min() ?? 0, steps.max() ?? 1]
        // The heads' curves only when EsViT's terms ran (masked-image modelling alone leaves them at 0).
        let heads = [series("view_loss", "view head"), series("region_loss", "region head")].filter { $0.y.contains { $0 > 0 } }
        let mim = series("mim_loss", "masked-image modelling (L1)")
        let entropies = [series("teacher_entropy_view", "view, per sample"), series("teacher_entropy_view_mean", "view, batch mean"),
                         series("teacher_entropy_region", "region, per token"), series("teacher_entropy_region_mean", "region, batch mean")]
        var panels = [
            LineChart.Panel(title: "Loss", xLabel: "step", yLabel: heads.isEmpty ? "masked-pixel L1" : "cross-entropy (nats) + L1",
                            series: [series("loss", "total")] + heads + (mim.y.contains { $0 > 0 } ? [mim] : [])),
            LineChart.Panel(title: "Pooled teacher features", xLabel: "step", yLabel: "std / effective rank",
                            series: [series("feature_std", "std x 100", scale: 100), series("effective_rank", "effective rank")]),
        ]
        if entropies.contains(where: { $0.y.contains { $0 > 0 } }) {
            panels.insert(LineChart.Panel(title: "Teacher entropy (collapse: flat at log K or near 0)", xLabel: "step", yLabel: "nats",
                                          series: entropies + [ChartSeries(label: "log K", x: span, y: [logK, logK])]), at: 1)
        }
        let monitors = [series("knn_accuracy", "k-NN (val vs train)"), series("knn_centred_accuracy", "k-NN, centred features"),
                        series("probe_accuracy", "linear probe accuracy"), series("probe_auc", "linear probe macro AUC")].filter { !$0.x.isEmpty }
        if !monitors.isEmpty {
            panels.append(LineChart.Panel(title: "Monitor on val (k-NN k=20, T=0.07; linear probe)", xLabel: "step", yLabel: "accuracy / AUC",
                                          series: monitors))
        }
        try LineChart(title: "lenspipe train", panels: panels, columns: 2).writePNG(path: path)
    }
}
