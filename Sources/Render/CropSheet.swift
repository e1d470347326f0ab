import Cropping
import LensData

/// For checking crops by eye: each row shows the original with its crop box drawn, then the crop.
public enum CropSheet {
    /// - Parameter rows: originals with their crop results.
    public static func make(_ rows: [(original: LensImage, crop: LensImage, record: CropRecord)], gap: Int = 4) -> RGBImage {
        let ow = rows.map(\.original.width).max() ?? 1, oh = rows.map(\.original.height).max() ?? 1
        let cw = rows.map(\.crop.width).max() ?? 1, ch = rows.map(\.crop.height).max() ?? 1
        let rowH = max(oh, ch)
        var sheet = RGBImage(width: 3 * gap + ow + cw, height: gap + rows.count * (rowH + gap), fill: (40, 40, 48))
        for (r, row) in rows.enumerated() {
            let y0 = gap + r * (rowH + gap)
            ContactSheet.draw(row.original, into: &sheet, x0: gap, y0: y0)
            let colour: (UInt8, UInt8, UInt8) = row.record.flags.contains(.emptyForeground) ? (255, 80, 80) : (80, 220, 255)
            drawBox(row.record.box, into: &sheet, x0: gap, y0: y0, clipW: row.original.width, clipH: row.original.height, colour)
            // Foreground centroid.
            let cx = gap + Int(row.record.centroidX.rounded()), cy = y0 + Int(row.record.centroidY.rounded())
            for d in -2...2 { sheet.set(x: cx + d, y: cy, (255, 200, 0)); sheet.set(x: cx, y: cy + d, (255, 200, 0)) }
            ContactSheet.draw(row.crop, into: &sheet, x0: 2 * gap + ow, y0: y0)
        }
        return sheet
    }

    static func drawBox(_ b: PixelBox, into sheet: inout RGBImage, x0: Int, y0: Int, clipW: Int, clipH: Int,
                        _ colour: (UInt8, UInt8, UInt8)) {
        let l = max(b.x0, 0), r = min(b.x1 - 1, clipW - 1), t = max(b.y0, 0), bt = min(b.y1 - 1, clipH - 1)
        guard l <= r, t <= bt else { return }
        for x in l...r { sheet.set(x: x0 + x, y: y0 + t, colour); sheet.set(x: x0 + x, y: y0 + bt, colour) }
        for y in t...bt { sheet.set(x: x0 + l, y: y0 + y, colour); sheet.set(x: x0 + r, y: y0 + y, colour) }
    }
}
