import Foundation
import Testing
@testable import LensData
import _TestSupport

/// Bad input gets a `LensDataError` naming the file and the problem: never a crash, a hang or a
/// huge allocation.
@Suite struct MalformedInputTests {
    let dir = TestSupport.tempDir("bad")

    func write(_ name: String, _ bytes: [UInt8]) -> String {
        let path = dir + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    /// A valid `(4, 5)` int64 file.
    func valid() -> [UInt8] {
        NPYHeader(dtype: .int64, shape: [4, 5]).encoded() + NPYWriter.littleEndianBytes((0..<20).map { Int64($0) })
    }

    func expectError(_ path: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            _ = try NPYFile.readImage(path: path)
            Issue.record("expected an error for \(path)", sourceLocation: sourceLocation)
        } catch let e as LensDataError {
            #expect(e.path == path, sourceLocation: sourceLocation)
            #expect(e.message.contains(text), "message was: \(e.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error type \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func validFileReads() throws {
        let read = try NPYFile.readImage(path: write("ok.npy", valid()))
        #expect(read.image.pixels == (0..<20).map(Float.init))
    }

    @Test func truncatedData() {
        expectError(write("trunc.npy", Array(valid().dropLast(9))), containing: "truncated")
    }

    @Test func truncatedHeader() {
        expectError(write("trunc-header.npy", Array(valid().prefix(40))), containing: "header claims")
        expectError(write("tiny.npy", [0x93, 0x4E]), containing: "too short")
    }

    @Test func badMagic() {
        var b = valid()
        b[1] = UInt8(ascii: "X")
        expectError(write("magic.npy", b), containing: "bad magic")
    }

    @Test func headerThatLiesAboutShape() {
        let lie = NPYHeader(dtype: .int64, shape: [40, 50]).encoded() + NPYWriter.littleEndianBytes((0..<20).map { Int64($0) })
        expectError(write("lie-shape.npy", lie), containing: "truncated")
    }

    @Test func headerThatLiesAboutDtype() {
        // Says float64 for 20 elements but holds 20 int16 values.
        let lie = NPYHeader(dtype: .float64, shape: [4, 5]).encoded() + [UInt8](repeating: 1, count: 40)
        expectError(write("lie-dtype.npy", lie), containing: "truncated")
        let bogus = Array(NPYHeader(dtype: .int64, shape: [4, 5]).encoded().map { $0 == UInt8(ascii: "i") ? UInt8(ascii: "c") : $0 })
        expectError(write("complex.npy", bogus + [UInt8](repeating: 0, count: 160)), containing: "unsupported dtype")
    }

    @Test func shapeClaimingTerabytes() {
        var header = Array("{'descr': '<f8', 'fortran_order': False, 'shape': (1000000, 1000000, 1000000), }".utf8)
        while (10 + header.count + 1) % 64 != 0 { header.append(0x20) }
        header.append(0x0A)
        let bytes = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0, UInt8(header.count & 0xFF), UInt8(header.count >> 8)] + header
        expectError(write("huge.npy", bytes + [0, 0, 0, 0]), containing: "claims more elements")
        let big = NPYHeader(dtype: .float64, shape: [100_000, 100_000]).encoded()
        expectError(write("big.npy", big + [0, 0, 0, 0]), containing: "truncated")
    }

    @Test func unsupportedVersionAndGarbageHeader() {
        var b = valid()
        b[6] = 9
        expectError(write("v9.npy", b), containing: "version 9")
        var g = valid()
        g[10] = UInt8(ascii: "@")  // the dict's opening brace
        expectError(write("garbage.npy", g), containing: "malformed header")
    }

    @Test func notAnImageShape() {
        let b = NPYHeader(dtype: .int64, shape: [20]).encoded() + NPYWriter.littleEndianBytes((0..<20).map { Int64($0) })
        expectError(write("rank1.npy", b), containing: "not an image")
    }

    /// Pickles that would run code in Python are refused by name, and the code never runs.
    @Test func maliciousPicklesAreRefusedAndNothingRuns() throws {
        let marker = dir + "/pwned"
        let script = """
        import os, pickle, sys, builtins
        import numpy as np
        class Sys:
            def __reduce__(self): return (os.system, ('touch ' + sys.argv[2],))
        class Eval:
            def __reduce__(self): return (builtins.eval, ("open(sys.argv[2], 'w')",))
        hdr = lambda f: np.lib.format.write_array_header_1_0(f, {'descr': '|O', 'fortran_order': False, 'shape': (2,)})
        for name, obj in [('system.npy', [np.zeros((3, 3)), Sys()]), ('eval.npy', [Eval(), np.zeros((3, 3))])]:
            with open(sys.argv[1] + '/' + name, 'wb') as f:
                hdr(f); pickle.dump(obj, f, protocol=2 if name == 'system.npy' else 4)
        """
        try TestSupport.python(script, [dir, marker])
        for (file, global) in [("system.npy", "posix.system"), ("eval.npy", "builtins.eval")] {
            expectError(dir + "/" + file, containing: "global '\(global)' is not allowed")
        }
        #expect(!FileManager.default.fileExists(atPath: marker), "a refused pickle must never run")
    }

    @Test func corruptHDF5() throws {
        let original = try Data(contentsOf: URL(fileURLWithPath: TestSupport.fixture("deeplense-mini/model2.h5")))
        let truncated = write("truncated.h5", Array(original.prefix(original.count / 3)))
        #expect(throws: LensDataError.self) {
            let s = try HDF5Source(path: truncated, dataset: "/train/images")
            for i in 0..<s.count { _ = try s.sample(at: i) }
        }
        var garbled = Array(original)
        var rng = Philox4x64(seed: 1, stream: 2)
        for _ in 0..<2000 { garbled[4096 + Int(rng.next() % UInt64(garbled.count - 4096))] ^= 0xFF }
        let g = write("garbled.h5", garbled)
        // Either it opens and every read fails cleanly, or it refuses to open: no crash either way.
        if let s = try? HDF5Source(path: g, dataset: "/train/images") {
            for i in 0..<s.count { _ = try? s.sample(at: i) }
        }
        #expect(throws: LensDataError.self) { try HDF5Source(path: write("text.h5", Array("hello".utf8)), dataset: "/x") }
    }

    @Test func missingAndUnreadablePaths() {
        expectError(dir + "/does-not-exist.npy", containing: "cannot open")
        #expect(throws: LensDataError.self) { try SourceSpec(dir + "/nothing-here").open() }
        let empty = TestSupport.tempDir("empty")
        #expect(throws: LensDataError.self) { try NPYFolderSource(root: empty) }
    }
}
