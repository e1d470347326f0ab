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

    /// One or more paragraphs (`\n`), wrapped to the figure's width; the first is the heading, the
    /// rest are drawn muted.
    public var title: String
    public var columnTitles: [String]
    public var rows: [Row]
    public var tile: Int
    public var labelWidth = 190
    /// What the colour bar under the grid says its two ends mean (nil: no colour bar).
    public var colourBar: (low: String, high: String, caption: String)? = ("low", "high",
        "Grey: the input stamp. Colour: the map over it, each scaled to its own range.")

    /// The smallest text the sheet draws (readable at 1200 px page width, as the report shows it).
    public static let minTextSize = 11
    /// The widest figure laid out for a page (the report's column is 1200 px).
    public static let pageWidth = 1200

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

    /// A string as drawn: its text, size, and box (`x` its left edge).
    public struct DrawnText: Sendable, Equatable {
        public var text: String
        public var size: Int
        public var x: Int, y: Int, width: Int
    }

    public func render() throws -> RGBImage { render(text: try TextRenderer()) }
    public func writePNG(path: String) throws { try render().writePNG(path: path) }
    public func render(text: TextRenderer) -> RGBImage { renderRecordingText(text: text).image }

    /// `text` broken into lines of at most `width` px at `size` (a word wider than that stays whole).
    static func wrap(_ paragraph: String, width: Int, size: Int, text: TextRenderer) -> [String] {
        var lines: [String] = [], line = ""
        for word in paragraph.split(separator: " ", omittingEmptySubsequences: false).map(String.init) {
            let candidate = line.isEmpty ? word : line + " " + word
            if !line.isEmpty && text.width(candidate, size: size) > width { lines.append(line); line = word } else { line = candidate }
        }
        return lines + [line]
    }

    /// `s` shortened with a leading ellipsis until it fits `width` px at `size`.
    static func fit(_ s: String, width: Int, size: Int, text: TextRenderer) -> String {
        var t = s
        while text.width(t, size: size) > width && t.count > 1 { t = "…" + t.dropFirst(2) }
        return t
    }

    /// The figure and every string drawn in it (what a test checks: sizes, and boxes inside the figure).
    public func renderRecordingText(text: TextRenderer) -> (image: RGBImage, texts: [DrawnText]) {
        let gap = 6, small = Self.minTextSize
        let columns = columnTitles.count
        let width = labelWidth + columns * (tile + gap) + gap
        var drawn: [(String, Int, Int, Int, RGB, TextRenderer.Alignment)] = []  // text, size, x, y, colour, alignment
        var y = 4
        for (i, paragraph) in title.split(separator: "\n", omittingEmptySubsequences: false).map(String.init).enumerated() {
            let size = i == 0 ? 14 : 12
            for line in Self.wrap(paragraph, width: width - 2 * gap, size: size, text: text) {
                drawn.append((line, size, gap, y, i == 0 ? .ink : .muted, .left))
                y += text.lineHeight(size: size) + 2
            }
        }
        y += 4
        let headLines = columnTitles.map { Self.wrap($0, width: tile, size: 12, text: text) }
        let headH = (headLines.map(\.count).max() ?? 1) * (text.lineHeight(size: 12) + 1) + 4
        for (c, lines) in headLines.enumerated() {
            for (l, line) in lines.enumerated() {
                drawn.append((line, 12, labelWidth + c * (tile + gap) + tile / 2, y + l * (text.lineHeight(size: 12) + 1), .ink, .center))
            }
        }
        let gridTop = y + headH
        for (r, row) in rows.enumerated() {
            let y0 = gridTop + r * (tile + gap)
            for (l, line) in row.label.enumerated() {
                let size = l == 0 ? 12 : small
                drawn.append((Self.fit(line, width: labelWidth - 2 * gap, size: size, text: text), size, gap,
                              y0 + 2 + l * (text.lineHeight(size: small) + 2), l == 0 ? .ink : .muted, .left))
            }
        }
        var height = gridTop + rows.count * (tile + gap) + gap
        let barTop = height
        let barWidth = min(240, width - 2 * gap)
        if let bar = colourBar {
            // The caption beside the bar when there is room for it (200 px or more), else under it.
            let beside = width - 2 * gap - barWidth - 20 >= 200
            let captionX = beside ? gap + barWidth + 20 : gap
            let captionTop = beside ? barTop : barTop + text.lineHeight(size: small) + 16
            let captionLines = Self.wrap(bar.caption, width: width - captionX - gap, size: small, text: text)
            drawn.append((bar.low, small, gap, barTop, .muted, .left))
            drawn.append((bar.high, small, gap + barWidth, barTop, .muted, .right))
            for (l, line) in captionLines.enumerated() {
                drawn.append((line, small, captionX, captionTop + l * (text.lineHeight(size: small) + 2), .muted, .left))
            }
            let captionBottom = captionTop + captionLines.count * (text.lineHeight(size: small) + 2)
            height = max(barTop + text.lineHeight(size: small) + 20, captionBottom) + gap
        }
        var out = RGBImage(width: width, height: height, fill: (255, 255, 255))
        for (r, row) in rows.enumerated() {
            let y0 = gridTop + r * (tile + gap)
            for c in 0..<min(columns, row.maps.count) { drawTile(row, map: row.maps[c], into: &out, x0: labelWidth + c * (tile + gap), y0: y0) }
        }
        if colourBar != nil {
            let lineH = text.lineHeight(size: small)
            for x in 0..<barWidth {
                let c = Self.colour(Float(x) / Float(max(1, barWidth - 1)))
                for dy in 0..<10 { out.set(x: gap + x, y: barTop + lineH + 2 + dy, (c.r, c.g, c.b)) }
            }
        }
        var texts: [DrawnText] = []
        for (t, size, x, y, colour, alignment) in drawn {
            text.draw(t, into: &out, x: x, y: y, size: size, colour: colour, alignment: alignment)
            let w = text.width(t, size: size)
            let left = alignment == .left ? x : (alignment == .center ? x - w / 2 : x - w)
            texts.append(DrawnText(text: t, size: size, x: left, y: y, width: w))
        }
        return (out, texts)
    }

    /// Pixel (`x`, `y`) of `map` (`[side, side]`) upsampled bilinearly to `size x size`, cell-centred:
    /// token (i, j) covers [j, j+1) x [i, i+1) of the grid.
    public static func upsampled(_ map: [Float], side: Int, x: Int, y: Int, size: Int) -> Float {
        let gx = (Double(x) + 0.5) * Double(side) / Double(size) - 0.5, gy = (Double(y) + 0.5) * Double(side) / Double(size) - 0.5
        let x0 = min(max(Int(gx.rounded(.down)), 0), side - 1), y0 = min(max(Int(gy.rounded(.down)), 0), side - 1)
        let x1 = min(x0 + 1, side - 1), y1 = min(y0 + 1, side - 1)
        let fx = Float(min(max(gx - Double(x0), 0), 1)), fy = Float(min(max(gy - Double(y0), 0), 1))
        let top = map[y0 * side + x0] * (1 - fx) + map[y0 * side + x1] * fx
        let bottom = map[y1 * side + x0] * (1 - fx) + map[y1 * side + x1] * fx
        return top * (1 - fy) + bottom * fy
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
                let m = Self.upsampled(map, side: side, x: tx, y: ty, size: tile)
                out.blend(x: x0 + tx, y: y0 + ty, Self.colour((m - mlo) / max(mhi - mlo, 1e-12)), alpha: 0.6)
            }
        }
    }
}
