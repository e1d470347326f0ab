import Foundation
import Testing
@testable import Demo
import Evaluation
import _TestSupport

/// `lenspipe demo` end to end on a small simulated set: every stage runs and the report holds each
/// stage's section, the eval table with both baselines, and every figure embedded.
@Suite struct DemoTests {
    @Test func demoWritesASelfContainedReport() throws {
        let out = TestSupport.tempDir("demo") + "/demo"
        let r = try TestSupport.lenspipe(["demo", "-o", out, "--count", "150", "--image-size", "64", "--train-epochs", "0.5"], timeout: 900)
        #expect(r.status == 0, "\(r.stdout)\n\(r.stderr)")
        #expect(r.stdout.contains("report: \(out)/report.html"))
        let html = try String(contentsOfFile: out + "/report.html", encoding: .utf8)
        for section in ["Simulate lenses", "Inspect", "Crop around the lens", "Shards", "SSL views", "Pre-train", "Evaluate frozen features", "Label efficiency", "Attention"] {
            #expect(html.contains(section), "\(section)")
        }
        for row in ["trained (teacher)", "random init", "raw pixels"] { #expect(html.contains("<td>\(row)</td>"), "\(row)") }
        let embedded = html.components(separatedBy: "data:image/png;base64,").count - 1
        #expect(embedded == 10, "sheet, crops, views, curves, roc, confusion, label efficiency, attention per image, per class and per head: \(embedded)")
        // The findings are stated in words (computed from the numbers; DemoFindingsTests checks the sentences).
        for phrase in ["The pre-trained features", "raw pixels on the linear probe", "Attention on the lens:", "Over training: start (random init)"] {
            #expect(html.contains(phrase), "\(phrase)")
        }
        #expect(!html.contains("was not written"))
        for file in ["sheet.png", "crops.png", "views.png", "run/curves.png", "run/eval/roc.png", "run/attention.png", "run/attention_classes.png", "run/attention_heads.png", "run/middle.safetensors", "run/eval/report.json",
                     "run/label-efficiency/label_efficiency.json", "run/label-efficiency/label_efficiency.png"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file)")
        }
    }
}

/// Issue 38: the report's findings are sentences computed from the numbers, never fixed text.
@Suite struct DemoFindingsTests {
    @Test func sentencesFollowTheNumbers() {
        #expect(DemoFindings.versus(0.95, 0.93, "the probe", "raw pixels") == "beat raw pixels on the probe by 0.020 (0.950 against 0.930)")
        #expect(DemoFindings.versus(0.70, 0.75, "k-NN accuracy", "raw pixels") == "lost to raw pixels on k-NN accuracy by 0.050 (0.700 against 0.750)")
        #expect(DemoFindings.versus(0.8, 0.8002, "k-NN accuracy", "random init").hasPrefix("matched random init"))
        let json = #"{"checkpoint": "c", "input": "i", "network": "teacher", "inputSize": 64, "grid": 4, "heads": 2, "images": [], "meanRatio": 1.2, "medianRatio": 1.2, "meanRatioPerHead": [1.1, 1.3], "meanRatioBrightest": 1.4, "imagesWithoutForeground": 0, "classes": [{"label": "cdm", "images": 3, "ratio_mean": 1.3, "ratio_std": 0.1, "ratio_per_head_mean": [], "ratio_per_head_std": []}, {"label": "no_sub", "images": 3, "ratio_mean": 1.1, "ratio_std": 0.1, "ratio_per_head_mean": [], "ratio_per_head_std": []}], "overTraining": []}"#
        var report = try! JSONDecoder().decode(AttentionStudy.Report.self, from: Data(json.utf8))
        let words = DemoFindings.attention(report)
        #expect(words.contains("1.20x") && words.contains("looks at the lens more") && words.contains("highest for cdm (1.30x), lowest for no_sub (1.10x)"), "\(words)")
        report.meanRatio = 0.8
        #expect(DemoFindings.attention(report).contains("looks away from the lens"))
    }
}
