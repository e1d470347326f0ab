import Foundation
import Testing
import ShardWriter
import _TestSupport

/// `verify` names classes as `inspect` does: from `lenspipe.json`, also for one split folder.
@Suite struct VerifyClassNameTests {
    @Test func oneSplitFolderGetsItsClassNamesFromTheOutputsMetadata() throws {
        let out = TestSupport.tempDir("verify-names") + "/out"
        let p = try TestSupport.lenspipe(["preprocess", TestSupport.fixture("deeplense-mini/model1"), out, "--keep-splits", "--size", "64", "--quiet"])
        #expect(p.status == 0, "\(p.stderr)")
        for root in [out, out + "/train"] {
            let report = ShardVerify.run(root: root, threads: 2)
            #expect(report.defects.isEmpty, "\(report.defects)")
            let train = try #require(report.folders.first { $0.folder == out + "/train" })
            #expect(train.classes == ["axion": 12, "cdm": 12, "no_sub": 12], "\(root)")
        }
        let text = try TestSupport.lenspipe(["verify", out + "/train"])
        #expect(text.status == 0, "\(text.stderr)")
        #expect(text.stdout.contains("36 samples (axion 12, cdm 12, no_sub 12)"), "\(text.stdout)")
    }

    @Test func labelsWithoutKnownNamesStayNumbers() throws {
        let out = TestSupport.tempDir("verify-numbers") + "/out"
        let p = try TestSupport.lenspipe(["preprocess", TestSupport.fixture("deeplense-mini/model1/train"), out, "--size", "64", "--quiet"])
        #expect(p.status == 0, "\(p.stderr)")
        try FileManager.default.removeItem(atPath: out + "/lenspipe.json")
        let report = ShardVerify.run(root: out, threads: 2)
        #expect(report.folders.first?.classes == ["0": 12, "1": 12, "2": 12])
    }
}
