import Foundation
import Testing
import LensData
@testable import Cropping
@testable import Render
@testable import ShardWriter
@testable import MiniTrain
@testable import PairSampler
import _TestSupport

@Suite struct RenderTests {
    @Test func pngRoundTrip() throws {
        var img = RGBImage(width: 7, height: 5, fill: (10, 20, 30))
        img.set(x: 3, y: 2, (255, 0, 128))
        let path = TestSupport.tempDir("png") + "/t.png"
        try img.writePNG(path: path)
        let back = try RGBImage.readPNG(path: path)
        #expect(back.width == 7 && back.height == 5)
        #expect(back.bytes == img.bytes)
        #expect(throws: LensDataError.self) { try RGBImage.readPNG(path: TestSupport.fixture("deeplense-mini/README.md")) }
    }

    @Test func asinhStretchMapsSkyToBlackAndPeakToWhite() {
        var g = Philox4x64(seed: 2, stream: 0)
        var image = LensImage(height: 40, width: 40)
        for i in image.pixels.indices { image.pixels[i] = Float(5 + g.normal()) }
        image[0, 20, 20] = 400
        let s = AsinhStretch(image: image)
        #expect(s(400) == 1)
        #expect(s(5) < 0.02)
        #expect(s(50) > 0.4)  // a faint arc stays visible
        let flat = AsinhStretch(image: LensImage(height: 4, width: 4, repeating: 0))
        #expect(flat(0).isFinite)
    }

    @Test func contactSheetHasOneRowPerClass() throws {
        let source = try NPYFolderSource(root: TestSupport.fixture("deeplense-mini/model1/train"))
        let (sheet, rows) = try ContactSheet.make(source: source, perClass: 2)
        #expect(rows == ["axion", "cdm", "no_sub"])
        // Two 150 px tiles per row (not scaled: already above 128 px), three rows, plus the bands.
        #expect(sheet.width > 2 * 150 && sheet.height > 3 * 150)
    }
}

@Suite struct ZstdFrameTests {
    @Test func roundTripAndPythonDecodes() throws {
        let input = (0..<100_000).map { UInt8(truncatingIfNeeded: $0 * 7 / 13) }
        let frame = try ZstdFrame.compress(input)
        #expect(frame.count < input.count / 4)
        #expect(try ZstdFrame.decompress(frame) == input)
        let path = TestSupport.tempDir("zstd") + "/f.zst"
        try Data(frame).write(to: URL(fileURLWithPath: path))
        // zstandard.decompress needs the content size in the frame header, as MDS readers do.
        let out = try TestSupport.python("import sys, zstandard; d = zstandard.decompress(open(sys.argv[1], 'rb').read()); print(len(d), sum(d))", [path])
        #expect(out.trimmingCharacters(in: .whitespacesAndNewlines) == "\(input.count) \(input.reduce(0) { $0 + Int($1) })")
        #expect(throws: LensDataError.self) { try ZstdFrame.decompress([1, 2, 3, 4, 5, 6, 7, 8]) }
    }
}

@Suite struct BLASTests {
    @Test func sgemmMatchesNaiveProductInAllTranspositions() {
        BLAS.setThreads(1)
        let (m, n, k) = (5, 4, 3)
        let a = (0..<(m * k)).map { Float($0 % 7) - 3 }
        let b = (0..<(k * n)).map { Float($0 % 5) - 2 }
        var naive = [Float](repeating: 0, count: m * n)
        for i in 0..<m { for j in 0..<n { for p in 0..<k { naive[i * n + j] += a[i * k + p] * b[p * n + j] } } }
        func transpose(_ x: [Float], _ r: Int, _ c: Int) -> [Float] { (0..<(r * c)).map { x[($0 % r) * c + $0 / r] } }
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let aa = ta ? transpose(a, m, k) : a
            let bb = tb ? transpose(b, k, n) : b
            var c = [Float](repeating: 1, count: m * n)
            BLAS.sgemm(aa, bb, &c, m: m, n: n, k: k, transA: ta, transB: tb)
            #expect(c == naive, "transA \(ta) transB \(tb)")
        }
    }
}

@Suite struct ViewKeyTests {
    @Test func sameKeySameStreamAnyFieldChangesIt() {
        let key = ViewKey(seed: 1, epoch: 2, sample: 3, view: 4)
        var a = key.generator(), b = key.generator()
        let first = (0..<8).map { _ in a.next() }
        #expect(first == (0..<8).map { _ in b.next() })
        for other in [ViewKey(seed: 9, epoch: 2, sample: 3, view: 4), ViewKey(seed: 1, epoch: 9, sample: 3, view: 4),
                      ViewKey(seed: 1, epoch: 2, sample: 9, view: 4), ViewKey(seed: 1, epoch: 2, sample: 3, view: 9)] {
            var g = other.generator()
            #expect((0..<8).map { _ in g.next() } != first)
        }
    }
}
