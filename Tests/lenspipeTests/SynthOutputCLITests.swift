import Foundation
import Testing
import _TestSupport

/// `synth` writes its output folder whole: a non-empty one is refused unless --overwrite, the images
/// go into a staging folder moved in place when complete, and a killed run's leftovers are removed.
@Suite struct SynthOutputCLITests {
    func synth(_ out: String, count: Int, _ extra: [String] = []) throws -> TestSupport.ProcessResult {
        try TestSupport.lenspipe(["synth", out, "--count", "\(count)", "--size", "64", "--quiet", "--threads", "2"] + extra)
    }

    func files(_ dir: String) -> [String] {
        (FileManager.default.enumerator(atPath: dir)?.allObjects as? [String] ?? []).filter { $0.hasSuffix(".npy") }.sorted()
    }

    @Test func aNonEmptyFolderIsRefusedUnlessOverwriteThenReplacedWhole() throws {
        let out = TestSupport.tempDir("synth-out") + "/out"
        #expect(try synth(out, count: 6).status == 0)
        #expect(files(out).count == 6)
        let again = try synth(out, count: 3)
        #expect(again.status != 0)
        #expect(again.stderr.contains("\(out): is not empty") && again.stderr.contains("--overwrite"), "\(again.stderr)")
        #expect(files(out).count == 6, "a refused run must not touch the output")
        let over = try synth(out, count: 3, ["--overwrite", "--format", "stack"])
        #expect(over.status == 0, "\(over.stderr)")
        #expect(StagedFolderNames.entries(out) == ["classes.txt", "images.npy", "labels.npy", "masses.npy", "truth.csv"])
        #expect(!FileManager.default.fileExists(atPath: StagedFolderNames.staging(out)))
    }

    @Test func overwriteRefusesAFolderSynthDidNotWrite() throws {
        let out = TestSupport.tempDir("synth-notes")
        try Data("mine".utf8).write(to: URL(fileURLWithPath: out + "/notes.txt"))
        let r = try synth(out, count: 3, ["--overwrite"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("does not look like a synth output"), "\(r.stderr)")
        #expect(StagedFolderNames.entries(out) == ["notes.txt"])
    }

    @Test func aStagingFolderLeftByAKilledRunIsRemoved() throws {
        let out = TestSupport.tempDir("synth-stale") + "/out"
        let staging = StagedFolderNames.staging(out)
        try FileManager.default.createDirectory(atPath: staging + "/axion", withIntermediateDirectories: true)
        try Data("half".utf8).write(to: URL(fileURLWithPath: staging + "/axion/axion_sim_000099.npy.tmp-4242"))
        let r = try synth(out, count: 3)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stderr.contains("removed \(staging), left by an interrupted run"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: staging))
        #expect(files(out).count == 3)
        #expect(!(FileManager.default.enumerator(atPath: out)?.allObjects as? [String] ?? []).contains { $0.contains(".tmp") })
    }
}

/// The names the CLI uses beside an output folder (LensData's `StagedFolder`).
enum StagedFolderNames {
    static func staging(_ out: String) -> String {
        let url = URL(fileURLWithPath: out).standardizedFileURL
        return url.deletingLastPathComponent().path + "/." + url.lastPathComponent + ".lenspipe-partial"
    }

    static func entries(_ dir: String) -> [String] { ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted() }
}
