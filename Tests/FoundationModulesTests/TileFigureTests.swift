import Foundation
import Testing
import Cropping
import LensData
import PairSampler
import Render
import _TestSupport

/// The image figures explain themselves: text is really drawn where the title, headers, row labels
/// and captions go, small tiles are scaled up by an integer factor, and the crop sheet leads with the
/// crops a reader should check.
@Suite struct TileFigureTests {
    /// Pixels brighter than the background in `rows` (the figure's background is dark grey).
    static func brightPixels(_ image: RGBImage, rows: Range<Int>, columns: Range<Int>? = nil) -> Int {
        var n = 0
        for y in rows where y < image.height {
            for x in columns ?? 0..<image.width where x < image.width {
                let i = 3 * (y * image.width + x)
                if Int(image.bytes[i]) + Int(image.bytes[i + 1]) + Int(image.bytes[i + 2]) > 3 * 120 { n += 1 }
            }
        }
        return n
    }

    static func blankTile(_ side: Int) -> RGBImage { RGBImage(width: side, height: side, fill: (0, 0, 0)) }

    @Test func titleHeadersRowLabelsAndCaptionsAreDrawn() throws {
        var f = TileFigure(title: "Title of the figure", rows: 2, columns: 2)
        f.columnHeaders = ["left", "right"]
        f.rowLabels = ["row one", "row two"]
        for r in 0..<2 { for c in 0..<2 { f.set(row: r, column: c, tile: Self.blankTile(32), caption: "kept 0.9\(r)") } }
        let image = try f.render()
        #expect(f.scale == 4)  // 32 px tiles drawn at 128 px
        #expect(image.width > 2 * 128 && image.height > 2 * 128)
        #expect(Self.brightPixels(image, rows: 0..<28) > 60, "title band has text")
        var bare = TileFigure(title: "", rows: 2, columns: 2)
        for r in 0..<2 { for c in 0..<2 { bare.set(row: r, column: c, tile: Self.blankTile(32)) } }
        let plain = try bare.render()
        #expect(Self.brightPixels(plain, rows: 0..<plain.height) == 0, "no labels, black tiles: nothing bright")
        // Row labels sit left of the tiles; captions below each tile.
        #expect(Self.brightPixels(image, rows: 0..<image.height, columns: 0..<40) > 40, "row labels drawn")
        let belowFirstRow = image.height / 2 - 20..<image.height / 2
        #expect(Self.brightPixels(image, rows: belowFirstRow) > 0 || Self.brightPixels(image, rows: image.height - 30..<image.height) > 0)
    }

    @Test func legendIsDrawnInItsColours() throws {
        var f = TileFigure(title: "t", rows: 1, columns: 1)
        f.set(row: 0, column: 0, tile: Self.blankTile(16))
        f.legend = [("global", RGB(80, 220, 255))]
        let image = try f.render()
        var found = false
        for y in (image.height - 30)..<image.height {
            for x in 0..<min(40, image.width) {
                let i = 3 * (y * image.width + x)
                if image.bytes[i] == 80 && image.bytes[i + 1] == 220 && image.bytes[i + 2] == 255 { found = true }
            }
        }
        #expect(found)
    }

    @Test func cropSheetPutsFlaggedAndWorstKeptFirst() throws {
        func record(_ kept: Float, _ flags: CropRecord.Flags) -> CropRecord {
            var r = Cropper(config: CropConfig(size: 8)).crop(LensImage(height: 16, width: 16, repeating: 0)).1
            r.keptFluxShare = kept
            r.flags = flags
            return r
        }
        let records = [record(0.99, []), record(0.80, []), record(1.0, [.emptyForeground]), record(0.95, []), record(0.80, [])]
        #expect(CropSheet.worstFirst(records, count: 4) == [2, 1, 4, 3])
    }

    @Test func viewGridLabelsEveryColumn() throws {
        let source = try NPYFolderSource(root: TestSupport.fixture("deeplense-mini/model1/train"))
        let samples = try (0..<2).map { try source.sample(at: $0) }
        let sampler = PairSampler(recipe: ViewRecipe(), seed: 0)
        let batch = sampler.makeBatch(images: samples.map(\.image), samples: [0, 1], epoch: 0, threads: 1, recordRejected: true)
        let image = try ViewGrid.make(images: samples.map(\.image), ids: samples.map(\.id), batch: batch, showRejected: true, title: "Views")
        #expect(image.width > 150 + 2 * 64 + 4 * 32)
        #expect(Self.brightPixels(image, rows: 0..<24) > 20, "title")
    }
}

/// Issue 36, item 13: pixel values a display cannot show (3e38, ±inf, NaN) are drawn, not trapped on.
@Suite struct HostilePixelRenderingTests {
    @Test func extremeAndNonFinitePixelsDraw() throws {
        var image = LensImage(channels: 1, height: 8, width: 8)
        for i in image.pixels.indices { image.pixels[i] = Float(i % 5) }
        image.pixels[3] = 3e38
        image.pixels[4] = -3e38
        image.pixels[5] = .nan
        image.pixels[6] = .infinity
        var sheet = RGBImage(width: 8, height: 8)
        ContactSheet.draw(image, into: &sheet, x0: 0, y0: 0)
        #expect(sheet.bytes.count == 8 * 8 * 3)
        let row = AttentionSheet.Row(label: ["x"], image: image.pixels, size: 8, maps: [[.nan, 1, 2, .infinity], [3e38, -3e38, 0, 1]])
        let figure = AttentionSheet(title: "hostile", columnTitles: ["a", "b"], rows: [row], tile: 16)
        let out = try figure.render()
        #expect(out.width > 0 && out.height > 0)
        #expect(RGBImage.byte(.nan) == 0 && RGBImage.byte(3e38) == 255 && RGBImage.byte(-.infinity) == 0)
    }
}
