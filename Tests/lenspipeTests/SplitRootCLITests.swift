import Foundation
import Testing
import _TestSupport

/// Roots of split folders (a preprocess output with `train/`, `test/` MDS folders, or a raw
/// `root/<split>/<class>/*.npy` tree) given where one data set is expected.
@Suite struct SplitRootCLITests {
    let model1 = TestSupport.fixture("deeplense-mini/model1")

    /// `preprocess --keep-splits` of the fixture: `out/test`, `out/train`.
    func shards() throws -> String {
        let out = TestSupport.tempDir("split-root") + "/out"
        let r = try TestSupport.lenspipe(["preprocess", model1, out, "--keep-splits", "--size", "64", "--quiet", "--threads", "2"])
        #expect(r.status == 0, "\(r.stderr)")
        return out
    }

    @Test func previewAndCropOfAPreprocessOutputNameTheSplitFolders() throws {
        let out = try shards()
        let png = TestSupport.tempDir("split-root-png") + "/g.png"
        for args in [["preview", out, "-o", png], ["crop", out]] {
            let r = try TestSupport.lenspipe(args)
            #expect(r.status != 0)
            #expect(r.stderr.contains("\(out): is a lenspipe output with splits test, train: pass one of \(out)/test, \(out)/train"), "\(args[0]): \(r.stderr)")
            #expect(!r.stderr.contains("no .npy files found"), "\(r.stderr)")
        }
        #expect(!FileManager.default.fileExists(atPath: png))
        // Commands that read sources only say what the folder is.
        let b = try TestSupport.lenspipe(["bench", "read", out, "--repeats", "1"])
        #expect(b.status != 0)
        #expect(b.stderr.contains("is a lenspipe output with splits test, train (MDS shards)"), "\(b.stderr)")
        let one = try TestSupport.lenspipe(["bench", "read", out + "/train", "--repeats", "1"])
        #expect(one.stderr.contains("holds MDS shards"), "\(one.stderr)")
    }

    @Test func previewOfARawSplitRootNamesTheSplitFolders() throws {
        let png = TestSupport.tempDir("split-root-raw") + "/g.png"
        let r = try TestSupport.lenspipe(["preview", model1, "-o", png])
        #expect(r.status != 0)
        #expect(r.stderr.contains("is a folder of splits test, train (class folders in each): pass one of \(model1)/test, \(model1)/train"), "\(r.stderr)")
    }

    @Test func inspectReportsEachSplitOfARawSplitRootAndTheTotal() throws {
        let r = try TestSupport.lenspipe(["inspect", model1, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try TestSupport.json(r.stdout)
        let splits = try #require(j["splits"] as? [String: [String: Any]])
        #expect(splits.keys.sorted() == ["test", "train"])
        let train = try #require(splits["train"]), test = try #require(splits["test"])
        #expect(train["images"] as? Int == 36)
        #expect(train["classes"] as? [String: Int] == ["axion": 12, "cdm": 12, "no_sub": 12])
        let testImages = try #require(test["images"] as? Int)
        #expect(j["images"] as? Int == 36 + testImages)
        let classes = try #require(j["classes"] as? [String: Int])
        #expect(classes.values.reduce(0, +) == 36 + testImages)
        #expect(j["shapes"] as? [[Int]] == [[1, 150, 150]])
        for key in ["dtypes", "targets", "min", "max", "errors", "nonfinite_pixels", "object_arrays", "source"] { #expect(j[key] != nil, "\(key)") }
        let text = try TestSupport.lenspipe(["inspect", model1])
        #expect(text.status == 0, "\(text.stderr)")
        for line in ["split test", "split train", "  classes:  axion 12, cdm 12, no_sub 12", "total", "  images:   \(36 + testImages) readable, 0 unreadable"] {
            #expect(text.stdout.contains(line), "\(line) in \(text.stdout)")
        }
        // One data set keeps its report as it was: no `splits` key.
        let one = try TestSupport.json(try TestSupport.lenspipe(["inspect", model1 + "/train", "--json"]).stdout)
        #expect(one["splits"] == nil)
        #expect(one["images"] as? Int == 36)
    }

    @Test func inspectReportsEachSplitOfAPreprocessOutput() throws {
        let out = try shards()
        let r = try TestSupport.lenspipe(["inspect", out, "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try TestSupport.json(r.stdout)
        let splits = try #require(j["splits"] as? [String: [String: Any]])
        #expect(splits.keys.sorted() == ["test", "train"])
        #expect(splits["train"]?["classes"] as? [String: Int] == ["axion": 12, "cdm": 12, "no_sub": 12])
        #expect(j["shapes"] as? [[Int]] == [[1, 64, 64]])
        let raw = try TestSupport.json(try TestSupport.lenspipe(["inspect", model1, "--json"]).stdout)
        #expect(j["images"] as? Int == raw["images"] as? Int)
        #expect(j["classes"] as? [String: Int] == raw["classes"] as? [String: Int])
    }
}
