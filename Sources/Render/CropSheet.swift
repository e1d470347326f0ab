import Cropping
import LensData

/// For checking crops by eye: each row shows the original with its crop box and lens centroid drawn,
/// then the crop, captioned with the flux the crop kept and the record's flags.
public enum CropSheet {
    public static let boxColour = RGB(80, 220, 255), emptyColour = RGB(255, 80, 80), centroidColour = RGB(255, 200, 0)

    /// - Parameter rows: originals with their crop results and sample ids.
    public static func make(_ rows: [(original: LensImage, crop: LensImage, record: CropRecord, id: String)],
                            title: String = "Crops around the lens") throws -> RGBImage {
        var figure = TileFigure(title: title, rows: rows.count, columns: 2)
        figure.subtitle = "\(rows.count) images, worst-kept and flagged first; caption: share of the lens flux inside the crop"
        figure.columnHeaders = ["original, crop box", "crop"]
        figure.rowLabels = rows.map { ContactSheet.shortID($0.id) }
        figure.legend = [("crop box", boxColour), ("box, no lens found", emptyColour), ("lens centroid", centroidColour)]
        for (r, row) in rows.enumerated() {
            var original = RGBImage.tile(row.original)
            let empty = row.record.flags.contains(.emptyForeground)
            drawBox(row.record.box, into: &original, clipW: row.original.width, clipH: row.original.height, empty ? emptyColour : boxColour)
            let (fx, fy) = (row.record.centroidX, row.record.centroidY)
            if fx.isFinite, fy.isFinite, abs(fx) < 1e6, abs(fy) < 1e6 {  // no centroid to mark on an image without finite flux
                let cx = Int(fx.rounded()), cy = Int(fy.rounded())
                let c = centroidColour
                for d in -2...2 { original.set(x: cx + d, y: cy, (c.r, c.g, c.b)); original.set(x: cx, y: cy + d, (c.r, c.g, c.b)) }
            }
            figure.set(row: r, column: 0, tile: original, caption: String(format: "kept %.2f", row.record.keptFluxShare))
            let flags = row.record.flags.names
            figure.set(row: r, column: 1, tile: .tile(row.crop), caption: flags.isEmpty ? "\(row.crop.width) px" : flags.joined(separator: ", "))
        }
        return try figure.render()
    }

    /// The `count` rows a reader should look at first: flagged crops, then the lowest kept flux share
    /// (ties in source order). Indices into `records`.
    public static func worstFirst(_ records: [CropRecord], count: Int) -> [Int] {
        Array(records.indices.sorted { a, b in
            let fa = records[a].flags.isEmpty ? 1 : 0, fb = records[b].flags.isEmpty ? 1 : 0
            if fa != fb { return fa < fb }
            if records[a].keptFluxShare != records[b].keptFluxShare { return records[a].keptFluxShare < records[b].keptFluxShare }
            return a < b
        }.prefix(count))
    }

    static func drawBox(_ b: PixelBox, into sheet: inout RGBImage, clipW: Int, clipH: Int, _ colour: RGB) {
        let l = max(b.x0, 0), r = min(b.x1 - 1, clipW - 1), t = max(b.y0, 0), bt = min(b.y1 - 1, clipH - 1)
        guard l <= r, t <= bt else { return }
        let c = (colour.r, colour.g, colour.b)
        for x in l...r { sheet.set(x: x, y: t, c); sheet.set(x: x, y: bt, c) }
        for y in t...bt { sheet.set(x: l, y: y, c); sheet.set(x: r, y: y, c) }
    }
}
