import Foundation
import Testing
@testable import LensData
@testable import ShardWriter
import _TestSupport

/// File names are bytes (issue 12, item 9): a name that is not UTF-8 is read like any other, and
/// tabs and newlines in names survive the skipped list.
@Suite struct FileNameTests {
    /// A class folder with a good file named `caf\xe9.npy` (Latin-1, not UTF-8), a good ASCII one,
    /// and broken files whose names hold a tab and a newline.
    static func source() throws -> String {
        let src = TestSupport.tempDir("names")
        let good = TestSupport.fixture("deeplense-mini/model1/train/cdm")
        let first = try FileManager.default.contentsOfDirectory(atPath: good).sorted()[0]
        try TestSupport.python("""
        import os, shutil, sys
        src, good = sys.argv[1], sys.argv[2]
        os.makedirs(src + '/a')
        shutil.copy(good, src + '/a/plain.npy')
        shutil.copy(good, os.fsencode(src) + b'/a/caf\\xe9.npy')
        for name in ['tab\\there.npy', 'new\\nline.npy']:
            open(src + '/a/' + name, 'w').write('broken')
        """, [src, good + "/" + first])
        return src
    }

    @Test func nonUTF8NameIsReadAndKept() throws {
        let src = try Self.source()
        let source = try NPYFolderSource(root: src + "/a")
        #expect(source.entries.map(\.path).contains("caf\\xe9.npy"))
        let i = try #require(source.entries.firstIndex { $0.path == "caf\\xe9.npy" })
        let plain = try #require(source.entries.firstIndex { $0.path == "plain.npy" })
        #expect(try source.sample(at: i).image == source.sample(at: plain).image)
    }

    @Test func skippedListIsJSONLinesThatKeepTabsAndNewlines() throws {
        let src = try Self.source()
        let out = TestSupport.tempDir("names-out")
        let r = try TestSupport.lenspipe(["preprocess", src + "/a", out, "--on-error", "skip", "--quiet"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(try MDSReader(folder: out).count == 2, "the non-UTF-8 file must not be dropped")
        let skipped = try JSONLines.readSkipped(out + "/skipped.jsonl")
        #expect(Set(skipped.map(\.path)) == [src + "/a/new\nline.npy", src + "/a/tab\there.npy"], "\(skipped)")
        #expect(skipped.allSatisfy { $0.error.contains("too short") })
        #expect(!FileManager.default.fileExists(atPath: out + "/skipped.txt"))
    }
}
