import LensData
import PairSampler

/// `lenspipe preview`'s picture: one row per image — the image with its view crops drawn (global in
/// cyan, local in yellow, fallbacks in magenta, rejected candidates in red), then every view in its
/// own labelled column, captioned with the lens flux share it holds and the candidates it took.
public enum ViewGrid {
    public static let globalColour = RGB(80, 220, 255), localColour = RGB(250, 210, 60)
    public static let fallbackColour = RGB(230, 80, 230), rejectedColour = RGB(230, 60, 60)

    public static func make(images: [LensImage], ids: [String] = [], batch: ViewBatch, showRejected: Bool,
                            title: String = "SSL views") throws -> RGBImage {
        let S = batch.globalSize, s = batch.localSize, C = batch.channels
        var figure = TileFigure(title: title, rows: images.count, columns: 1 + batch.globalViews + batch.localViews)
        let stats = batch.stats
        figure.subtitle = String(format: "%d global %d px + %d local %d px views per image; acceptance %.2f (mean retries: global %.2f, local %.2f); caption: lens flux share in the view, candidate number",
                                 batch.globalViews, S, batch.localViews, s, stats.acceptance, stats.global.meanRetries, stats.local.meanRetries)
        figure.columnHeaders = ["image, view boxes"] + (0..<batch.globalViews).map { "global \($0 + 1)" } + (0..<batch.localViews).map { "local \($0 + 1)" }
        figure.rowLabels = images.indices.map { $0 < ids.count ? ContactSheet.shortID(ids[$0]) : "image \($0 + 1)" }
        figure.legend = [("global", globalColour), ("local", localColour), ("fallback (no acceptable candidate)", fallbackColour)]
            + (showRejected ? [("rejected candidate (sky only)", rejectedColour)] : [])
        for (k, image) in images.enumerated() {
            var tile = RGBImage.tile(image)
            let records = batch.records[k]
            if showRejected { for r in records { for g in r.rejected { polygon(g.corners, into: &tile, rejectedColour) } } }
            for r in records { polygon(r.crop.corners, into: &tile, r.fallback ? fallbackColour : r.isGlobal ? globalColour : localColour) }
            let rejected = records.reduce(0) { $0 + $1.retries }
            figure.set(row: k, column: 0, tile: tile, caption: "\(rejected) rejected")
            func caption(_ r: PairSampler.ViewRecord?) -> String {
                guard let r else { return "" }
                if r.noForeground { return "no lens mask" }
                return r.fallback ? "fallback" : String(format: "flux %.2f, try %d", r.fluxShare, r.retries + 1)
            }
            let globals = records.filter(\.isGlobal), locals = records.filter { !$0.isGlobal }
            for v in 0..<batch.globalViews {
                let base = (k * batch.globalViews + v) * C * S * S
                let view = LensImage(channels: C, height: S, width: S, pixels: Array(batch.global[base..<(base + C * S * S)]))
                figure.set(row: k, column: 1 + v, tile: .tile(view), caption: caption(v < globals.count ? globals[v] : nil))
            }
            for v in 0..<batch.localViews {
                let base = (k * batch.localViews + v) * C * s * s
                let view = LensImage(channels: C, height: s, width: s, pixels: Array(batch.local[base..<(base + C * s * s)]))
                figure.set(row: k, column: 1 + batch.globalViews + v, tile: .tile(view), caption: caption(v < locals.count ? locals[v] : nil))
            }
        }
        return try figure.render()
    }

    /// Draws a closed polygon through pixel-space corners.
    static func polygon(_ corners: [[Double]], into sheet: inout RGBImage, _ colour: RGB) {
        for i in 0..<corners.count {
            let a = corners[i], b = corners[(i + 1) % corners.count]
            let steps = Int(max(abs(b[0] - a[0]), abs(b[1] - a[1])).rounded(.up)) + 1
            for t in 0...steps {
                let f = Double(t) / Double(steps)
                let x = a[0] + f * (b[0] - a[0]) - 0.5, y = a[1] + f * (b[1] - a[1]) - 0.5
                sheet.set(x: Int(x.rounded()), y: Int(y.rounded()), (colour.r, colour.g, colour.b))
            }
        }
    }
}
