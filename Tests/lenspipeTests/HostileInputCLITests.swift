import Foundation
import Testing
import _TestSupport

/// Hostile inputs run through the binary, where a crash or a hang is reported as a failure of one
/// test instead of taking the test process down (issue 12).
@Suite struct HostileInputCLITests {
    /// Item 4: a FIFO named `x.npy` among good files is reported as an error naming it; the scan
    /// neither blocks in `open` nor drops the good files.
    @Test func fifoInASourceFolderIsAnErrorNotAHang() throws {
        let dir = TestSupport.tempDir("cli-fifo")
        try FileManager.default.createDirectory(atPath: dir + "/a", withIntermediateDirectories: true)
        let good = TestSupport.fixture("deeplense-mini/model1/train/cdm")
        let first = try FileManager.default.contentsOfDirectory(atPath: good).sorted()[0]
        try FileManager.default.copyItem(atPath: good + "/" + first, toPath: dir + "/a/good.npy")
        #expect(mkfifo(dir + "/a/x.npy", 0o644) == 0)
        let r = try TestSupport.lenspipe(["inspect", dir, "--json"], timeout: 30)
        #expect(!r.timedOut, "inspect blocked on the FIFO")
        #expect(r.status == 1)
        let j = try TestSupport.json(r.stdout)
        #expect(j["images"] as? Int == 1)
        let errors = try #require(j["errors"] as? [[String: String]])
        #expect(errors.count == 1 && errors[0]["path"] == dir + "/a/x.npy")
        #expect(errors[0]["message"]?.contains("FIFO") == true, "\(errors)")
        // An HDF5 "file" that is a FIFO: libhdf5 would open it itself and block.
        #expect(mkfifo(dir + "/pipe.h5", 0o644) == 0)
        let h = try TestSupport.lenspipe(["inspect", dir + "/pipe.h5:/images"], timeout: 30)
        #expect(!h.timedOut && h.status != 0)
        #expect(h.stderr.contains("pipe.h5") && h.stderr.contains("FIFO"), "\(h.stderr)")
    }

    /// Item 3: one-byte flips of an HDF5 file's metadata that a current libhdf5 refuses (Debian's
    /// 1.10.8 crashed in H5Dread or tried to allocate 1.2 TB on some): each run ends with an exit
    /// status, never a signal or a hang.
    @Test func flippedHDF5HeadersNeverCrash() throws {
        let dir = TestSupport.tempDir("cli-flips")
        try TestSupport.pythonHelper("make_hostile_h5.py", [dir, "--flips", "60"])
        let cases = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: dir + "/flips.json"))) as? [[String: Any]])
        #expect(cases.count == 60)
        var refused = 0
        for c in cases {
            let file = dir + "/" + (c["file"] as? String ?? "")
            let r = try TestSupport.lenspipe(["inspect", file + ":/images", "--json", "--threads", "2"], timeout: 60)
            #expect(!r.crashed && !r.timedOut, "\(file) (byte \(c["offset"] ?? "?")): \(r.stderr.suffix(400))")
            #expect(r.status == 0 || r.status == 1, "\(file): status \(r.status)")
            if r.status == 1 {
                refused += 1
                let paths = ((try? TestSupport.json(r.stdout))?["errors"] as? [[String: String]])?.compactMap { $0["path"] } ?? []
                #expect(r.stderr.contains(file) || (!paths.isEmpty && paths.allSatisfy { $0.hasPrefix(file) }),
                        "the error names the file: \(r.stderr.prefix(300)) \(paths.prefix(2))")
            }
            #expect(!r.stderr.contains("HDF5-DIAG"), "libhdf5 printed its stack for \(file)")
        }
        #expect(refused > cases.count / 2)
    }

    /// Item 10: a file whose chunks are garbled, read on several threads: libhdf5 prints nothing
    /// (its printing is a per-thread setting), and each error carries libhdf5's innermost reason.
    @Test func libhdf5PrintsNothingAndErrorsSayWhy() throws {
        let dir = TestSupport.tempDir("cli-h5diag")
        let s = try TestSupport.lenspipe(["synth", dir, "--count", "200", "--size", "64", "--format", "hdf5", "--quiet", "--threads", "2"])
        #expect(s.status == 0, "\(s.stderr)")
        var bytes = Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/lenses.h5")))
        for i in stride(from: bytes.count / 2, to: bytes.count / 2 + 20_000, by: 5) { bytes[i] ^= 0xFF }
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/garbled.h5"))
        let r = try TestSupport.lenspipe(["inspect", dir + "/garbled.h5:/images", "--json", "--threads", "2"], timeout: 120)
        #expect(r.status == 1)
        #expect(!r.stderr.contains("HDF5-DIAG"), "\(r.stderr.prefix(600))")
        let errors = try #require(try TestSupport.json(r.stdout)["errors"] as? [[String: String]])
        #expect(!errors.isEmpty)
        #expect(errors.allSatisfy { $0["message"]?.contains("(libhdf5: ") == true }, "\(errors.prefix(3))")
    }

    /// The hostile pickles of item 1, through the binary.
    @Test func hostilePicklesThroughTheBinary() throws {
        let dir = TestSupport.tempDir("cli-pickles")
        HostileFiles.write(HostileFiles.deepTuple(100_000), in: dir, name: "tuple.npy")
        HostileFiles.write(HostileFiles.memoChain(300_000), in: dir, name: "memo.npy")
        HostileFiles.write(HostileFiles.selfReferencingList(copies: 2000), in: dir, name: "self.npy")
        let r = try TestSupport.lenspipe(["inspect", dir, "--json"], timeout: 120)
        #expect(!r.crashed && !r.timedOut && r.status == 1, "\(r.stderr.suffix(400))")
        #expect((try TestSupport.json(r.stdout)["errors"] as? [Any])?.count == 3)
    }
}
