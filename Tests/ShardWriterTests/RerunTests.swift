import Foundation
import Testing
@testable import ShardWriter
import _TestSupport

/// Reruns into an existing output (issue 12, item 7): refused unless --overwrite, and an overwrite
/// leaves nothing of the earlier run (stale splits, lenspipe.json, skipped list).
@Suite struct RerunTests {
    static let model1 = TestSupport.fixture("deeplense-mini/model1/train")

    func preprocess(_ args: [String]) throws -> TestSupport.ProcessResult {
        try TestSupport.lenspipe(["preprocess"] + args + ["--quiet", "--size", "64"])
    }

    @Test func rerunIsRefusedThenReplacesEverything() throws {
        // First run: a source with a broken file, three splits, skipped list.
        let src = TestSupport.tempDir("rerun-src")
        try FileManager.default.copyItem(atPath: Self.model1 + "/cdm", toPath: src + "/cdm")
        try Data("broken".utf8).write(to: URL(fileURLWithPath: src + "/cdm/zz.npy"))
        let out = TestSupport.tempDir("rerun-out")
        var r = try preprocess([src, out, "--split", "train=0.5,val=0.25,test=0.25", "--on-error", "skip"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/test/index.json") && FileManager.default.fileExists(atPath: out + "/skipped.jsonl"))

        r = try preprocess([Self.model1, out, "--split", "train=0.5,val=0.5"])
        #expect(r.status != 0 && r.stderr.contains("is not empty") && r.stderr.contains("--overwrite"), "\(r.stderr)")
        #expect(FileManager.default.fileExists(atPath: out + "/test/index.json"), "a refused run must not touch the output")

        r = try preprocess([Self.model1, out, "--split", "train=0.5,val=0.5", "--overwrite"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(OutputFolder.entries(out) == ["lenspipe.json", "train", "val"])
        #expect(try DatasetMetadata.read(from: out + "/lenspipe.json").images == 36)
        #expect(!FileManager.default.fileExists(atPath: OutputFolder.staging(for: out)))
        let v = try TestSupport.lenspipe(["verify", out])
        #expect(v.status == 0, "\(v.stdout)")
    }

    @Test func overwriteRefusesAFolderThatIsNotAnOutput() throws {
        let out = TestSupport.tempDir("rerun-notes")
        try Data("mine".utf8).write(to: URL(fileURLWithPath: out + "/notes.txt"))
        let r = try preprocess([Self.model1, out, "--overwrite"])
        #expect(r.status != 0 && r.stderr.contains("does not look like a preprocess output"), "\(r.stderr)")
        #expect(OutputFolder.entries(out) == ["notes.txt"])
    }

    @Test func workersOwnTheirPartsOnly() throws {
        let out = TestSupport.tempDir("rerun-workers")
        #expect(try preprocess([Self.model1, out, "--worker", "0/2"]).status == 0)
        #expect(try preprocess([Self.model1, out, "--worker", "1/2"]).status == 0)
        let again = try preprocess([Self.model1, out, "--worker", "0/2"])
        #expect(again.status != 0 && again.stderr.contains("--overwrite"), "\(again.stderr)")
        #expect(try TestSupport.lenspipe(["merge", out]).status == 0)
        // Rewriting a part after the merge removes the merged index and lenspipe.json, not the other part.
        #expect(try preprocess([Self.model1, out, "--worker", "0/2", "--overwrite"]).status == 0)
        #expect(!FileManager.default.fileExists(atPath: out + "/lenspipe.json") && !FileManager.default.fileExists(atPath: out + "/index.json"))
        #expect(FileManager.default.fileExists(atPath: out + "/part001/index.json"))
        #expect(try TestSupport.lenspipe(["merge", out]).status == 0)
        let v = try TestSupport.lenspipe(["verify", out])
        #expect(v.status == 0, "\(v.stdout)")
    }
}
