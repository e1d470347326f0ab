import LensData
import PairSampler

/// `lenspipe preview`'s picture: one row per image — the image with its view crops drawn (global in
/// cyan, local in yellow, fallbacks in magenta, rejected candidates in red), then every view.
public enum ViewGrid {
    public static func make(images: [LensImage], batch: ViewBatch, showRejected: Bool, gap: Int = 4) -> RGBImage {
        let W = images.map(\.width).max() ?? 1, H = images.map(\.height).max() ?? 1
        let S = batch.globalSize, s = batch.localSize, C = batch.channels
        let rowH = max(H, S)
        let width = gap + W + gap + batch.globalViews * (S + gap) + batch.localViews * (s + gap)
        var sheet = RGBImage(width: width, height: gap + images.count * (rowH + gap), fill: (40, 40, 48))
        for (k, image) in images.enumerated() {
            let y0 = gap + k * (rowH + gap)
            ContactSheet.draw(image, into: &sheet, x0: gap, y0: y0)
            for r in batch.records[k] {
                if showRejected { for g in r.rejected { polygon(g.corners, into: &sheet, x0: gap, y0: y0, (230, 60, 60)) } }
            }
            for r in batch.records[k] {
                let colour: (UInt8, UInt8, UInt8) = r.fallback ? (230, 80, 230) : r.isGlobal ? (80, 220, 255) : (250, 210, 60)
                polygon(r.crop.corners, into: &sheet, x0: gap, y0: y0, colour)
            }
            var x = gap + W + gap
            for v in 0..<batch.globalViews {
                let base = (k * batch.globalViews + v) * C * S * S
                ContactSheet.draw(LensImage(channels: C, height: S, width: S, pixels: Array(batch.global[base..<(base + C * S * S)])),
                                  into: &sheet, x0: x, y0: y0)
                x += S + gap
            }
            for v in 0..<batch.localViews {
                let base = (k * batch.localViews + v) * C * s * s
                ContactSheet.draw(LensImage(channels: C, height: s, width: s, pixels: Array(batch.local[base..<(base + C * s * s)])),
                                  into: &sheet, x0: x, y0: y0)
                x += s + gap
            }
        }
        return sheet
    }

    /// Draws a closed polygon through pixel-space corners.
    static func polygon(_ corners: [[Double]], into sheet: inout RGBImage, x0: Int, y0: Int, _ colour: (UInt8, UInt8, UInt8)) {
        for i in 0..<corners.count {
            let a = corners[i], b = corners[(i + 1) % corners.count]
            let steps = Int(max(abs(b[0] - a[0]), abs(b[1] - a[1])).rounded(.up)) + 1
            for t in 0...steps {
                let f = Double(t) / Double(steps)
                let x = a[0] + f * (b[0] - a[0]) - 0.5, y = a[1] + f * (b[1] - a[1]) - 0.5
                sheet.set(x: x0 + Int(x.rounded()), y: y0 + Int(y.rounded()), colour)
            }
        }
    }
}
