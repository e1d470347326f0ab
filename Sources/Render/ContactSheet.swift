import LensData

/// A grid of images, one row per class, each tile asinh-stretched: a quick look at a data set.
public enum ContactSheet {
    /// Picks the first `perClass` readable samples of each class (or of the whole source when it has
    /// no labels), in source order, and draws them as grey tiles (scaled up when small) in a titled
    /// figure: one row per class, labelled, each tile captioned with its sample id.
    /// - Returns: the sheet and the row labels (class names), top to bottom.
    public static func make(source: any SampleSource, perClass: Int = 6, title: String = "Contact sheet") throws -> (RGBImage, [String]) {
        let rowsWanted = max(1, source.classes.count)
        var rows = [[(LensImage, String)]](repeating: [], count: rowsWanted)
        var index = 0
        while index < source.count, rows.contains(where: { $0.count < perClass }) {
            defer { index += 1 }
            guard let s = try? source.sample(at: index) else { continue }
            let r = min(s.label ?? 0, rowsWanted - 1)
            if rows[r].count < perClass { rows[r].append((s.image, s.id)) }
        }
        let labels = source.classes.isEmpty ? ["(unlabelled)"] : source.classes
        var figure = TileFigure(title: title, rows: rowsWanted, columns: perClass)
        let shapes = Set(rows.flatMap { $0 }.map { "\($0.0.width)x\($0.0.height)" }).sorted().joined(separator: ", ")
        figure.subtitle = "first \(perClass) images of each class, \(shapes) px, asinh stretch per tile; caption: sample id"
        figure.rowLabels = labels
        for (r, images) in rows.enumerated() {
            for (c, (image, id)) in images.enumerated() { figure.set(row: r, column: c, tile: .tile(image), caption: shortID(id)) }
        }
        return (try figure.render(), labels)
    }

    /// The file name of a sample id without its extension, at most `limit` characters (its tail).
    public static func shortID(_ id: String, limit: Int = 16) -> String {
        var name = Substring(id.split(separator: "/").last ?? Substring(id))
        if let dot = name.lastIndex(of: "."), dot > name.startIndex { name = name[..<dot] }
        return name.count <= limit ? String(name) : "…" + name.suffix(limit - 1)
    }

    /// Draws `image` (channel mean, asinh-stretched) with its top-left corner at (x0, y0).
    public static func draw(_ image: LensImage, into sheet: inout RGBImage, x0: Int, y0: Int) {
        let stretch = AsinhStretch(image: image)
        let plane = image.channelSum()
        for y in 0..<image.height {
            for x in 0..<image.width {
                let v = RGBImage.byte(stretch(plane[y * image.width + x] / Float(image.channels)))
                sheet.set(x: x0 + x, y: y0 + y, (v, v, v))
            }
        }
    }
}
