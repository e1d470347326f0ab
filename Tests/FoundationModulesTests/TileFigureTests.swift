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

/// Issue 38: the attention figure is laid out for the report's 1200 px column, and every string in it
/// (title, column titles, row labels, colour bar, caption) is drawn at 11 px or more, inside the figure.
@Suite struct AttentionFigureLayoutTests {
    @Test func everyStringIsReadableAndInsideAtPageWidth() throws {
        let S = 64
        let image = (0..<(S * S)).map { Float(($0 % S) + ($0 / S)) / Float(2 * S) }
        let rows = (0..<6).map { i in
            AttentionSheet.Row(label: ["model2/test/very/long/folder/name/sample_\(i)_with_a_long_id.npy", "cdm", "lens ratio 1.23", "lens area 18%"],
                               image: image, size: S, maps: [nil, [Float](repeating: 0.5, count: 16), (0..<16).map { Float($0) }, (0..<16).map { Float(15 - $0) }, (0..<16).map { Float($0 % 4) }])
        }
        let title = "What the last stage attends to (4x4 tokens, 8 heads, teacher): mean lens ratio 1.04 over 150 images\nLens ratio = the attention on the lens / the lens's share of the area (1 = no preference, 2 = twice a uniform map's). Columns: the stamp; its lens mask; the attention each token receives, averaged over queries and heads; the attention of the brightest token; each token's cosine similarity to the pooled feature."
        let sheet = AttentionSheet(title: title, columnTitles: ["stamp", "lens mask", "attention (heads' mean)", "brightest token's attention", "similarity to pooled"],
                                   rows: rows, tile: 150)
        let (out, texts) = sheet.renderRecordingText(text: try TextRenderer())
        #expect(out.width <= AttentionSheet.pageWidth, "figure \(out.width) px wide")
        #expect(out.height == 0 || out.bytes.count == out.width * out.height * 3)
        for t in texts {
            #expect(t.size >= AttentionSheet.minTextSize, "'\(t.text)' at \(t.size) px")
            #expect(t.x >= 0 && t.x + t.width <= out.width && t.y >= 0 && t.y < out.height, "'\(t.text)' at x \(t.x), width \(t.width), y \(t.y)")
        }
        // Every part is there: the title's paragraphs, each column title, each row's lines, the colour bar and its caption.
        let all = texts.map(\.text).joined(separator: " ")
        for needle in ["What the last stage", "Lens ratio =", "stamp", "lens mask", "similarity", "mple_5_with", "cdm", "lens ratio 1.23", "low", "high", "Grey:"] {
            #expect(all.contains(needle), "'\(needle)' is not drawn")
        }
        // A column title wider than a tile wraps instead of running into its neighbour.
        for t in texts where ["stamp", "lens mask"].contains(t.text) { #expect(t.width <= 150) }
        #expect(texts.filter { $0.y < texts.first { $0.text == "stamp" }!.y }.count >= 3, "the long title wraps onto several lines")
    }

    /// A sheet of one narrow column (the per-head figure of a one-head model) keeps its caption inside.
    @Test func aNarrowSheetKeepsEveryStringInside() throws {
        let S = 32
        let rows = [AttentionSheet.Row(label: ["id", "cdm"], image: [Float](repeating: 0.5, count: S * S), size: S, maps: [[Float](repeating: 1, count: 16)])]
        let (out, texts) = AttentionSheet(title: "Each head's attention\nMean lens ratio per head: 1.00", columnTitles: ["head 1"], rows: rows, tile: 60)
            .renderRecordingText(text: try TextRenderer())
        for t in texts {
            #expect(t.size >= AttentionSheet.minTextSize && t.x >= 0 && t.x + t.width <= out.width && t.y < out.height, "'\(t.text)' at x \(t.x) width \(t.width)")
        }
        #expect(texts.contains { $0.text.hasPrefix("Grey:") })
    }
}
