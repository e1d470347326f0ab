/// A grid of maps over images, one row per image and a title per column (`lenspipe attention`): each
/// tile is the image in grey with a coarse map (a token grid) upsampled bilinearly and overlaid in the
/// "inferno" colours (dark = low, yellow = high), each map scaled to its own range.
public struct AttentionSheet: Sendable {
    public struct Row: Sendable {
        /// Lines drawn left of the row (e.g. the sample id and its lens-attention ratio).
        public var label: [String]
        /// The image, `[size, size]`.
        public var image: [Float]
        public var size: Int
        /// One entry per column: a `[side, side]` map, or nil for the image alone.
        public var maps: [[Float]?]
        public init(label: [String], image: [Float], size: Int, maps: [[Float]?]) {
            self.label = label
            self.image = image
            self.size = size
            self.maps = maps
        }
    }

    /// One or more lines (`\n`); the first is the heading, the rest are drawn muted.
    public var title: String
    public var columnTitles: [String]
    public var rows: [Row]
    public var tile: Int
    public var labelWidth = 170

    public init(title: String, columnTitles: [String], rows: [Row], tile: Int = 80) {
        self.title = title
        self.columnTitles = columnTitles
        self.rows = rows
        self.tile = tile
    }

    static let inferno: [RGB] = [RGB(0, 0, 4), RGB(87, 16, 110), RGB(188, 55, 84), RGB(249, 142, 9), RGB(252, 255, 164)]

    static func colour(_ v: Float) -> RGB {
        let t = Double(RGBImage.unit(v)) * Double(inferno.count - 1)
        let i = min(Int(t), inferno.count - 2)
        return RGB.mix(inferno[i], inferno[i + 1], t - Double(i))
    }

    public func render() throws -> RGBImage { render(text: try TextRenderer()) }
    public func writePNG(path: String) throws { try render().writePNG(path: path) }

    public func render(text: TextRenderer) -> RGBImage {
        let titleLines = title.split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let gap = 4, lineH = text.lineHeight(size: 13) + 2, titleH = titleLines.count * lineH + 6, headH = text.lineHeight(size: 11) + 6
        let columns = columnTitles.count
        let width = labelWidth + columns * (tile + gap) + gap
        let height = titleH + headH + rows.count * (tile + gap) + gap
        var out = RGBImage(width: width, height: height, fill: (255, 255, 255))
        for (i, line) in titleLines.enumerated() { text.draw(line, into: &out, x: gap, y: 3 + i * lineH, size: 13, colour: i == 0 ? .ink : .muted) }
        for (c, t) in columnTitles.enumerated() {
            text.draw(t, into: &out, x: labelWidth + c * (tile + gap) + tile / 2, y: titleH, size: 11, alignment: .center)
        }
        for (r, row) in rows.enumerated() {
            let y0 = titleH + headH + r * (tile + gap)
            for (l, line) in row.label.enumerated() {
                text.draw(line, into: &out, x: gap, y: y0 + 4 + l * (text.lineHeight(size: 11) + 2), size: 11,
                          colour: l == 0 ? .ink : .muted)
            }
            for c in 0..<min(columns, row.maps.count) {
                drawTile(row, map: row.maps[c], into: &out, x0: labelWidth + c * (tile + gap), y0: y0)
            }
        }
        return out
    }

    func drawTile(_ row: Row, map: [Float]?, into out: inout RGBImage, x0: Int, y0: Int) {
        let S = row.size
        let finite = row.image.filter(\.isFinite)
        let lo = finite.min() ?? 0, hi = finite.max() ?? 1
        let side = map.map { Int(Double($0.count).squareRoot().rounded()) } ?? 0
        let (mlo, mhi) = map.map { ($0.min() ?? 0, $0.max() ?? 1) } ?? (0, 1)
        for ty in 0..<tile {
            for tx in 0..<tile {
                let sx = min(S - 1, tx * S / tile), sy = min(S - 1, ty * S / tile)
                let v = row.image[sy * S + sx]
                let g = RGBImage.byte((v.isFinite ? v - lo : 0) / max(hi - lo, 1e-12))
                out.set(x: x0 + tx, y: y0 + ty, (g, g, g))
                guard let map, side > 0 else { continue }
                // Bilinear, cell-centred: token (i, j) covers [j, j+1) x [i, i+1) of the grid.
                let gx = (Double(tx) + 0.5) * Double(side) / Double(tile) - 0.5, gy = (Double(ty) + 0.5) * Double(side) / Double(tile) - 0.5
                let x0i = min(max(Int(gx.rounded(.down)), 0), side - 1), y0i = min(max(Int(gy.rounded(.down)), 0), side - 1)
                let x1i = min(x0i + 1, side - 1), y1i = min(y0i + 1, side - 1)
                let fx = Float(min(max(gx - Double(x0i), 0), 1)), fy = Float(min(max(gy - Double(y0i), 0), 1))
                let top = map[y0i * side + x0i] * (1 - fx) + map[y0i * side + x1i] * fx
                let bottom = map[y1i * side + x0i] * (1 - fx) + map[y1i * side + x1i] * fx
                let m = top * (1 - fy) + bottom * fy
                out.blend(x: x0 + tx, y: y0 + ty, Self.colour((m - mlo) / max(mhi - mlo, 1e-12)), alpha: 0.6)
            }
        }
    }
}
