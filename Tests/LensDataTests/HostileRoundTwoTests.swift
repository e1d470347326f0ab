import Foundation
import Testing
@testable import LensData
import _TestSupport

/// Issue 36, items 8 and 16: members that inflate a hundred times their size, a stored `.npz` member
/// with a flipped byte, FITS `BSCALE = 0`. Each is refused with the file named.
@Suite struct HostileRoundTwoTests {
    static let dir = TestSupport.tempDir("hostile-two")

    func expectRefused(_ path: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        do {
            let s = try SourceSpec(path).open()
            for i in 0..<min(s.count, 4) { _ = try s.sample(at: i) }
            Issue.record("expected \(path) to be refused, opened \(s.count) images", sourceLocation: sourceLocation)
        } catch let e as LensDataError {
            #expect(e.path.hasPrefix(path), "path was \(e.path)", sourceLocation: sourceLocation)
            #expect(e.message.contains(text), "message was: \(e.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    /// `.fits.gz` of 100 MB of zeros (about 100 KB compressed) and an `.npz` whose deflated member is
    /// 100 MB of zeros: over 100x and over 64 MiB, refused before the memory goes to them.
    @Test func compressedMembersThatInflateAHundredfold() throws {
        let fits = Self.dir + "/bomb.fits.gz", npz = Self.dir + "/bomb.npz"
        _ = try TestSupport.python("""
        import gzip, io, zipfile, numpy as np, sys
        n = 5000
        cards = ["SIMPLE  =                    T", "BITPIX  =                  -32", "NAXIS   =                    2",
                 "NAXIS1  = %20d" % n, "NAXIS2  = %20d" % n, "END"]
        header = "".join(c.ljust(80) for c in cards).ljust(2880).encode()
        with gzip.open(sys.argv[1], "wb") as f:
            f.write(header + bytes(4 * n * n))
        buf = io.BytesIO()
        np.save(buf, np.zeros((n, n), np.float32))
        with zipfile.ZipFile(sys.argv[2], "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("x.npy", buf.getvalue())
        """, [fits, npz])
        let size = try FileManager.default.attributesOfItem(atPath: fits)[.size] as? Int ?? 0
        #expect(size < 1 << 20)
        expectRefused(fits, containing: "100x")
        expectRefused(npz, containing: "decompression bomb")
    }

    @Test func aStoredMemberWithAFlippedByte() throws {
        let path = Self.dir + "/stored.npz"
        _ = try TestSupport.python("import numpy as np, sys; np.savez(sys.argv[1], x=np.arange(2 * 16 * 16, dtype=np.float32).reshape(2, 16, 16), y=np.array([0, 1]))", [path])
        #expect(try SourceSpec(path).open().count == 2)
        var bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
        let archive = try ZipArchive(path: path)
        let x = try #require(archive.member(named: "x.npy"))
        bytes[x.dataOffset + x.compressedSize - 9] ^= 0x01
        let flipped = HostileFiles.write(bytes, in: Self.dir, name: "flipped.npz")
        expectRefused(flipped, containing: "CRC-32 mismatch")
    }

    @Test func fitsBSCALEZero() {
        var b = HostileFITSTests.file(axes: ["3", "2"], dataBytes: 12, extra: [("BSCALE", "0.0")])
        b[2880 + 1] = 5
        expectRefused(HostileFiles.write(b, in: Self.dir, name: "bscale0.fits"), containing: "BSCALE = 0")
    }
}
