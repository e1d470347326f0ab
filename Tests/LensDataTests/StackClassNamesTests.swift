import Foundation
import Testing
import LensData
import _TestSupport

/// A stack's class names: `--classes`, else `classes.txt` beside the labels file, else numbers.
@Suite struct StackClassNamesTests {
    /// A 6-image stack with labels 0, 1, 2, 0, 1, 2 in a fresh folder.
    func stack() throws -> String {
        let dir = TestSupport.tempDir("stack-names")
        try NPYWriter.write(path: dir + "/images.npy", shape: [6, 4, 4], float32: (0..<96).map(Float.init))
        try NPYWriter.write(path: dir + "/labels.npy", shape: [6], int64: [0, 1, 2, 0, 1, 2])
        return dir
    }

    @Test func classesTxtBesideTheLabelsNamesTheClasses() throws {
        let dir = try stack()
        #expect(try NPYStackSource(path: dir + "/images.npy", labelsPath: dir + "/labels.npy").classes == ["0", "1", "2"])
        try "axion\ncdm\nno_sub\n".write(toFile: dir + "/classes.txt", atomically: true, encoding: .utf8)
        #expect(try NPYStackSource(path: dir + "/images.npy", labelsPath: dir + "/labels.npy").classes == ["axion", "cdm", "no_sub"])
        // --classes wins; without labels there are no classes to name.
        #expect(try NPYStackSource(path: dir + "/images.npy", labelsPath: dir + "/labels.npy", classNames: ["a", "b", "c"]).classes == ["a", "b", "c"])
        #expect(try NPYStackSource(path: dir + "/images.npy").classes.isEmpty)
        let report = SourceScan.run(try SourceSpec(dir + "/images.npy", labels: dir + "/labels.npy").open(), threads: 1)
        #expect(report.classes == ["axion": 2, "cdm": 2, "no_sub": 2])
    }

    @Test func aBadClassesTxtIsRefusedNamingIt() throws {
        let dir = try stack()
        let txt = dir + "/classes.txt"
        for (text, message) in [("axion\ncdm\n", "labels go up to 2 but only 2 class names were given"),
                                ("axion\n\ncdm\nno_sub\n", "line 2 is empty"),
                                ("axion\ncdm\naxion\n", "names class 'axion' twice")] {
            try text.write(toFile: txt, atomically: true, encoding: .utf8)
            do {
                _ = try NPYStackSource(path: dir + "/images.npy", labelsPath: dir + "/labels.npy")
                Issue.record("expected an error for \(text.debugDescription)")
            } catch let e as LensDataError {
                #expect(e.path == txt)
                #expect(e.message.contains(message), "\(e.message)")
            }
        }
    }
}
