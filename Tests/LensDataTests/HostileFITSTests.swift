import Foundation
import Testing
@testable import LensData
import _TestSupport

/// FITS files that lie about themselves, written byte by byte here (no astropy needed): each must be
/// refused with a `LensDataError` naming the file and what was wrong, before anything is allocated
/// for the size it claims, and without crashing.
@Suite struct HostileFITSTests {
    /// A FITS header: 80-character cards, `END`, padded with spaces to 2880 bytes.
    static func header(_ cards: [(String, String)]) -> [UInt8] {
        var text = ""
        for (key, value) in cards { text += (key.padding(toLength: 8, withPad: " ", startingAt: 0) + "= " + value).padding(toLength: 80, withPad: " ", startingAt: 0) }
        text += "END".padding(toLength: 80, withPad: " ", startingAt: 0)
        var bytes = Array(text.utf8)
        bytes += [UInt8](repeating: 0x20, count: (2880 - bytes.count % 2880) % 2880)
        return bytes
    }

    /// A primary HDU with `axes` (NAXIS1 first) and `dataBytes` of zeros, padded.
    static func file(bitpix: String = "16", axes: [String], dataBytes: Int, extra: [(String, String)] = []) -> [UInt8] {
        var cards = [("SIMPLE", "T"), ("BITPIX", bitpix), ("NAXIS", "\(axes.count)")]
        cards += axes.enumerated().map { ("NAXIS\($0.offset + 1)", $0.element) }
        var b = header(cards + extra) + [UInt8](repeating: 0, count: dataBytes)
        b += [UInt8](repeating: 0, count: (2880 - b.count % 2880) % 2880)
        return b
    }

    static let dir = TestSupport.tempDir("hostile-fits")

    func expectRefused(_ bytes: [UInt8], _ name: String, containing text: String, sourceLocation: SourceLocation = #_sourceLocation) {
        let path = HostileFiles.write(bytes, in: Self.dir, name: name)
        do {
            let s = try SourceSpec(path).open()
            for i in 0..<min(s.count, 4) { _ = try s.sample(at: i) }
            Issue.record("expected \(name) to be refused, opened \(s.count) images", sourceLocation: sourceLocation)
        } catch let e as LensDataError {
            #expect(e.path == path, "path was \(e.path)", sourceLocation: sourceLocation)
            #expect(e.message.contains(text), "message was: \(e.message)", sourceLocation: sourceLocation)
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
        }
    }

    @Test func aValidFileReads() throws {
        var b = Self.file(axes: ["3", "2"], dataBytes: 12, extra: [("BZERO", "1.0")])
        b[2880 + 1] = 5  // pixel (0, 0) = 5 (big-endian int16), + BZERO
        let path = HostileFiles.write(b, in: Self.dir, name: "valid.fits")
        let s = try SourceSpec(path).open()
        #expect(s.count == 1)
        #expect(try s.sample(at: 0).image.pixels == [6, 1, 1, 1, 1, 1])
    }

    @Test func truncatedData() {
        let b = Self.file(axes: ["100", "100"], dataBytes: 20_000)
        expectRefused(Array(b.prefix(2880 + 5000)), "truncated.fits", containing: "truncated or corrupt: HDU 0: image 100x100 (BITPIX 16) needs 20000 data bytes")
    }

    @Test func truncatedHeader() {
        let b = Self.file(axes: ["10", "10"], dataBytes: 200)
        expectRefused(Array(b.prefix(400)), "cut_header.fits", containing: "cfitsio status")
    }

    @Test func hugeAxesAreRefusedBeforeAllocating() {
        // 10^12 pixels in one image, in a 5760-byte file.
        expectRefused(Self.file(bitpix: "8", axes: ["1000000000000", "1"], dataBytes: 100), "huge_naxis1.fits", containing: "exceed the limit")
        expectRefused(Self.file(bitpix: "8", axes: ["1000000", "1000000"], dataBytes: 100), "huge_square.fits", containing: "exceed the limit")
        // Images of sane size, 10^9 of them: the data would end far past the end of the file.
        expectRefused(Self.file(axes: ["64", "64", "1000000000"], dataBytes: 100), "huge_cube.fits", containing: "truncated or corrupt")
        // Products that overflow 64 bits.
        expectRefused(Self.file(axes: ["4000000000000", "4000000000000", "4000000000000"], dataBytes: 100), "overflow.fits", containing: "overflows")
    }

    @Test func badBITPIX() {
        expectRefused(Self.file(bitpix: "12", axes: ["4", "4"], dataBytes: 32), "bitpix12.fits", containing: "cfitsio status 211")
    }

    @Test func notFITSAtAll() {
        expectRefused(Array(String(repeating: "this is not a FITS file\n", count: 200).utf8), "text.fits", containing: "not a FITS file")
        expectRefused([], "empty.fits", containing: "empty")
        // A gzip stream cut short.
        let gz: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 3] + [UInt8](repeating: 0x55, count: 40)
        expectRefused(gz, "broken.fits.gz", containing: "compressed data")
    }

    @Test func aFolderEntryThatIsNotFITSIsAnErrorForThatFileOnly() throws {
        let root = TestSupport.tempDir("hostile-fits-tree")
        try FileManager.default.createDirectory(atPath: root + "/a", withIntermediateDirectories: true)
        HostileFiles.write(Self.file(axes: ["4", "4"], dataBytes: 32), in: root + "/a", name: "good.fits")
        HostileFiles.write(Array("garbage".utf8), in: root + "/a", name: "junk.fits")
        let s = try SourceSpec(root).open()
        #expect(s.count == 2)
        _ = try s.sample(at: 0)
        #expect { try s.sample(at: 1) } throws: { ($0 as! LensDataError).path == root + "/a/junk.fits" }
    }

    @Test func randomByteFlipsNeverCrash() throws {
        let original = Self.file(bitpix: "-32", axes: ["8", "6", "3"], dataBytes: 8 * 6 * 3 * 4, extra: [("BSCALE", "2.0"), ("EXTEND", "T")])
        var rng = SplitMix(seed: 99)
        var refused = 0
        for k in 0..<300 {
            var b = original
            // Flips in the header (where they matter), now and then one in the data.
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let at = rng.next() % 5 == 0 ? Int(rng.next() % UInt64(b.count)) : Int(rng.next() % 600)
                b[at] = [UInt8(ascii: "0"), UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: " "), UInt8(ascii: "="), 0, 0xFF][Int(rng.next() % 7)]
            }
            let path = HostileFiles.write(b, in: Self.dir, name: "flip\(k).fits")
            do {
                let s = try SourceSpec(path).open()
                for i in 0..<min(s.count, 3) { _ = try s.sample(at: i) }
            } catch is LensDataError {
                refused += 1
            }
        }
        #expect(refused > 0)
    }
}
