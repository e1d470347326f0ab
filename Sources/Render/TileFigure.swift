import LensData

/// A figure that explains itself around a grid of image tiles: a title (and an optional subtitle), a
/// header over each column, a label left of each row, a caption under each tile (its key number), and
/// a legend of the colours drawn on the tiles. Tiles are scaled up by one integer factor (nearest
/// neighbour, so pixels stay pixels) until the largest is at least `minimumTileSide` pixels.
///
///     var f = TileFigure(title: "Training crops", rows: 2, columns: 3)
///     f.rowLabels = ["axion", "cdm"]
///     f.set(row: 0, column: 0, tile: image, caption: "kept 0.97")
///     try f.render().writePNG(path: "sheet.png")
public struct TileFigure: Sendable {
    public struct Tile: Sendable {
        public var image: RGBImage
        public var caption: String
    }

    public var title: String
    public var subtitle = ""
    public var columnHeaders: [String] = []
    public var rowLabels: [String] = []
    public var legend: [(label: String, colour: RGB)] = []
    public var minimumTileSide = 128
    public var background = RGB(40, 40, 48)
    public private(set) var tiles: [[Tile?]]

    public init(title: String, rows: Int, columns: Int) {
        self.title = title
        tiles = [[Tile?]](repeating: [Tile?](repeating: nil, count: max(columns, 1)), count: max(rows, 1))
    }

    public mutating func set(row: Int, column: Int, tile: RGBImage, caption: String = "") {
        tiles[row][column] = Tile(image: tile, caption: caption)
    }

    /// The integer factor the tiles are drawn at.
    public var scale: Int {
        let side = tiles.flatMap { $0 }.compactMap { $0.map { max($0.image.width, $0.image.height) } }.max() ?? 1
        return max(1, (minimumTileSide + side - 1) / side)
    }

    public func render() throws -> RGBImage {
        let text = try TextRenderer()
        let k = scale, gap = 6, titleSize = 18, labelSize = 13, captionSize = 11
        let lineTitle = text.lineHeight(size: titleSize), lineLabel = text.lineHeight(size: labelSize), lineCaption = text.lineHeight(size: captionSize)
        let columns = tiles[0].count
        var colWidth = [Int](repeating: 0, count: columns), rowHeight = [Int](repeating: 0, count: tiles.count)
        for (r, row) in tiles.enumerated() {
            for (c, tile) in row.enumerated() {
                guard let tile else { continue }
                colWidth[c] = max(colWidth[c], tile.image.width * k, text.width(tile.caption, size: captionSize))
                rowHeight[r] = max(rowHeight[r], tile.image.height * k)
            }
        }
        for (c, h) in columnHeaders.prefix(columns).enumerated() { colWidth[c] = max(colWidth[c], text.width(h, size: labelSize)) }
        let hasCaptions = tiles.flatMap { $0 }.contains { !($0?.caption.isEmpty ?? true) }
        let captionBand = hasCaptions ? lineCaption + 2 : 0
        let labelWidth = rowLabels.isEmpty ? 0 : (rowLabels.map { text.width($0, size: labelSize) }.max() ?? 0) + 2 * gap
        let headerBand = columnHeaders.isEmpty ? 0 : lineLabel + gap
        let titleBand = gap + lineTitle + (subtitle.isEmpty ? 0 : lineLabel + 2) + gap
        let legendBand = legend.isEmpty ? 0 : lineLabel + 2 * gap
        let gridWidth = colWidth.reduce(0, +) + gap * (columns + 1)
        let legendWidth = legend.reduce(gap) { $0 + 14 + 4 + text.width($1.label, size: labelSize) + 2 * gap }
        let width = max(labelWidth + gridWidth, text.width(title, size: titleSize) + 2 * gap,
                        text.width(subtitle, size: labelSize) + 2 * gap, legendWidth)
        let height = titleBand + headerBand + rowHeight.reduce(0) { $0 + $1 + captionBand + gap } + gap + legendBand
        var image = RGBImage(width: width, height: height, fill: (background.r, background.g, background.b))
        let white = RGB(235, 235, 240), grey = RGB(180, 180, 190)
        text.draw(title, into: &image, x: gap, y: gap, size: titleSize, colour: white)
        if !subtitle.isEmpty { text.draw(subtitle, into: &image, x: gap, y: gap + lineTitle + 2, size: labelSize, colour: grey) }
        var x0s = [Int](), x = labelWidth + gap
        for c in 0..<columns { x0s.append(x); x += colWidth[c] + gap }
        for (c, h) in columnHeaders.prefix(columns).enumerated() {
            text.draw(h, into: &image, x: x0s[c] + colWidth[c] / 2, y: titleBand, size: labelSize, colour: white, alignment: .center)
        }
        var y = titleBand + headerBand
        for (r, row) in tiles.enumerated() {
            if r < rowLabels.count {
                text.draw(rowLabels[r], into: &image, x: labelWidth - gap, y: y + max(0, rowHeight[r] - lineLabel) / 2, size: labelSize,
                          colour: white, alignment: .right)
            }
            for (c, tile) in row.enumerated() {
                guard let tile else { continue }
                let tx = x0s[c] + (colWidth[c] - tile.image.width * k) / 2
                Self.blit(tile.image, scale: k, into: &image, x0: tx, y0: y)
                if !tile.caption.isEmpty {
                    text.draw(tile.caption, into: &image, x: x0s[c] + colWidth[c] / 2, y: y + tile.image.height * k + 1, size: captionSize,
                              colour: grey, alignment: .center)
                }
            }
            y += rowHeight[r] + captionBand + gap
        }
        var lx = gap
        let ly = height - legendBand + gap
        for entry in legend {
            image.fill(PixelRect(x: lx, y: ly + lineLabel / 2 - 5, width: 14, height: 10), entry.colour)
            lx += 18
            text.draw(entry.label, into: &image, x: lx, y: ly, size: labelSize, colour: white)
            lx += text.width(entry.label, size: labelSize) + 2 * gap
        }
        return image
    }

    /// Copies `tile` into `image` with each pixel as a `scale` x `scale` block.
    static func blit(_ tile: RGBImage, scale k: Int, into image: inout RGBImage, x0: Int, y0: Int) {
        for y in 0..<(tile.height * k) {
            for x in 0..<(tile.width * k) {
                let i = 3 * ((y / k) * tile.width + x / k)
                image.set(x: x0 + x, y: y0 + y, (tile.bytes[i], tile.bytes[i + 1], tile.bytes[i + 2]))
            }
        }
    }
}

extension RGBImage {
    /// A grey tile of `image` (channel mean, asinh-stretched), at its native size.
    public static func tile(_ image: LensImage) -> RGBImage {
        var out = RGBImage(width: image.width, height: image.height)
        ContactSheet.draw(image, into: &out, x0: 0, y0: 0)
        return out
    }
}
