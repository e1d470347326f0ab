import Foundation
import Testing
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
        #expect(embedded == 8, "sheet, crops, views, curves, roc, confusion, label efficiency, attention: \(embedded)")
        #expect(!html.contains("was not written"))
        for file in ["sheet.png", "crops.png", "views.png", "run/curves.png", "run/eval/roc.png", "run/attention.png", "run/eval/report.json",
                     "run/label-efficiency/label_efficiency.json", "run/label-efficiency/label_efficiency.png"] {
            #expect(FileManager.default.fileExists(atPath: out + "/" + file), "\(file)")
        }
    }
}
