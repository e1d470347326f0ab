import Foundation
import Testing
@testable import LensData
import _TestSupport

/// What lenspipe writes, numpy reads: plain arrays and pickled object arrays.
@Suite struct WriterTests {
    @Test func numpyLoadsWhatWeWrite() throws {
        let dir = TestSupport.tempDir("writer")
        let img = (0..<30).map { Int64($0 * 7 - 50) }
        try NPYWriter.write(path: dir + "/plain.npy", shape: [5, 6], int64: img)
        try NPYWriter.write(path: dir + "/f32.npy", shape: [2, 3], float32: [1.5, -2, 0, 3.25, 1e-30, 7])
        let raw = RawArray(dtype: .int64, shape: [5, 6], bytes: NPYWriter.littleEndianBytes(img))
        try NPYWriter.writeObjectArray(path: dir + "/obj.npy", image: raw, scalars: [6.02e-23])
        let script = """
        import sys, numpy as np
        d = sys.argv[1]
        a = np.load(d + '/plain.npy'); print(a.dtype, a.shape, int(a.sum()), int(a[4, 5]))
        b = np.load(d + '/f32.npy'); print(b.dtype, b.tolist())
        o = np.load(d + '/obj.npy', allow_pickle=True); print(o.dtype, o.shape, o[0].dtype, o[0].shape, int(o[0].sum()), repr(o[1]))
        """
        let lines = try TestSupport.python(script, [dir]).split(separator: "\n").map(String.init)
        #expect(lines[0] == "int64 (5, 6) \(img.reduce(0, +)) \(img[29])")
        #expect(lines[1] == "float32 [[1.5, -2.0, 0.0], [3.25, 1.0000000031710769e-30, 7.0]]")
        #expect(lines[2] == "object (2,) int64 (5, 6) \(img.reduce(0, +)) 6.02e-23")
        // And we read our own object array back.
        let back = try NPYFile.readImage(path: dir + "/obj.npy")
        #expect(back.image.pixels == img.map(Float.init))
        #expect(back.target == 6.02e-23)
    }

    @Test func headerEncodingMatchesNumpy() throws {
        let script = """
        import io, numpy as np
        for shape in [(150, 150), (3,), (2, 1, 64, 64)]:
            f = io.BytesIO(); np.lib.format.write_array_header_1_0(f, {'descr': '<f4', 'fortran_order': False, 'shape': shape})
            print(f.getvalue().hex())
        """
        let expected = try TestSupport.python(script).split(separator: "\n").map(String.init)
        let ours = [[150, 150], [3], [2, 1, 64, 64]].map { NPYHeader(dtype: .float32, shape: $0).encoded().map { String(format: "%02x", $0) }.joined() }
        #expect(ours == expected)
    }
}
