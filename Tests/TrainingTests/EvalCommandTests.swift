import Foundation
import Testing
import _TestSupport

/// `lenspipe embed` and `lenspipe eval` on a tiny trained checkpoint: three rows, figures, and the k-NN
/// row equal to numpy + scikit-learn on the features `embed` wrote.
@Suite(.serialized) struct EvalCommandTests {
    @Test func evalRowsMatchAnIndependentKNNOnEmbeddedFeatures() throws {
        let setup = TrainCommandTests.setup
        let base = TestSupport.tempDir("eval")
        let t = try TestSupport.lenspipe(["train", setup.shards, "-o", base + "/run", "--recipe", setup.recipe, "--epochs", "1", "--quiet"])
        #expect(t.status == 0, "\(t.stderr)")
        let ckpt = base + "/run/final.safetensors"
        let (train, test) = (setup.shards + "/train", setup.shards + "/val")
        for (split, dir) in [(train, base + "/ftrain"), (test, base + "/ftest")] {
            let e = try TestSupport.lenspipe(["embed", ckpt, split, "-o", dir + "/features.npy", "--quiet", "--json"])
            #expect(e.status == 0, "\(e.stderr)")
            let written = try TestSupport.json(e.stdout)
            #expect(written["dimension"] as? Int == 16 && (written["count"] as? Int ?? 0) > 0 && written["network"] as? String == "teacher")
        }
        let r = try TestSupport.lenspipe(["eval", ckpt, "--train", train, "--test", test, "-o", base + "/eval", "--json", "--quiet", "--k", "5"])
        #expect(r.status == 0, "\(r.stderr)")
        let report = try TestSupport.json(r.stdout)
        let rows = try #require(report["rows"] as? [[String: Any]])
        #expect(rows.compactMap { $0["features"] as? String } == ["trained (teacher)", "random init", "raw pixels"])
        #expect(rows[2]["dimension"] as? Int == 32 * 32 && rows[2]["probe_dimension"] as? Int == 32 * 32)
        // The probe reads the last 4 blocks' pooled outputs (EsViT's n_last_blocks), the k-NN the final feature.
        for row in rows.prefix(2) { #expect((row["probe_dimension"] as? Int ?? 0) > (row["dimension"] as? Int ?? .max), "\(row)") }
        let bad = try TestSupport.lenspipe(["eval", ckpt, "--train", train, "--test", test, "--probe-blocks", "99", "--quiet"])
        #expect(bad.status != 0 && bad.stderr.contains("last 99 blocks"), "\(bad.stderr)")
        for row in rows { for key in ["knn_accuracy", "knn_macro_auc", "probe_accuracy", "probe_macro_auc"] { #expect(row[key] is Double, "\(key)") } }
        let reference = try TestSupport.json(try TestSupport.pythonHelper("eval_reference.py", [base + "/ftrain", base + "/ftest", "5", "0.07"]))
        #expect(abs((rows[0]["knn_accuracy"] as! Double) - (reference["knn_accuracy"] as! Double)) < 1e-9)
        #expect(abs((rows[0]["knn_macro_auc"] as! Double) - (reference["knn_macro_auc"] as! Double)) < 1e-3)
        for png in ["roc.png", "confusion.png"] { #expect(FileManager.default.fileExists(atPath: base + "/eval/" + png)) }
        #expect(FileManager.default.fileExists(atPath: base + "/eval/report.json"))
    }
}
