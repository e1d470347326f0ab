import LensData

/// A grid of images, one row per class, each tile asinh-stretched: a quick look at a data set.
public enum ContactSheet {
    /// Picks the first `perClass` readable samples of each class (or of the whole source when it has
    /// no labels), in source order, and draws them as grey tiles at their native size.
    /// - Returns: the sheet and the row labels (class names), top to bottom.
    public static func make(source: any SampleSource, perClass: Int = 6, gap: Int = 4) -> (RGBImage, [String]) {
        let rowsWanted = max(1, source.classes.count)
        var rows = [[LensImage]](repeating: [], count: rowsWanted)
        var index = 0
        while index < source.count, rows.contains(where: { $0.count < perClass }) {
            defer { index += 1 }
            guard let s = try? source.sample(at: index) else { continue }
            let r = min(s.label ?? 0, rowsWanted - 1)
            if rows[r].count < perClass { rows[r].append(s.image) }
        }
        let tileW = rows.flatMap { $0 }.map(\.width).max() ?? 1
        let tileH = rows.flatMap { $0 }.map(\.height).max() ?? 1
        var sheet = RGBImage(width: gap + perClass * (tileW + gap), height: gap + rowsWanted * (tileH + gap), fill: (40, 40, 48))
        for (r, images) in rows.enumerated() {
            for (c, image) in images.enumerated() {
                draw(image, into: &sheet, x0: gap + c * (tileW + gap), y0: gap + r * (tileH + gap))
            }
        }
        let labels = source.classes.isEmpty ? ["(unlabelled)"] : source.classes
        return (sheet, labels)
    }

    /// Draws `image` (channel mean, asinh-stretched) with its top-left corner at (x0, y0).
    public static func draw(_ image: LensImage, into sheet: inout RGBImage, x0: Int, y0: Int) {
        let stretch = AsinhStretch(image: image)
        let plane = image.channelSum()
        for y in 0..<image.height {
            for x in 0..<image.width {
                let v = UInt8(255 * stretch(plane[y * image.width + x] / Float(image.channels)))
                sheet.set(x: x0 + x, y: y0 + y, (v, v, v))
            }
        }
    }
}
