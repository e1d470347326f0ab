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
}
