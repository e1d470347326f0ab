import Foundation

/// A confusion matrix as a grid of cells (rows true class, columns predicted class), each shaded by
/// its share of the true class and labelled with its count and that share; class names on both
/// axes, "true" and "predicted" axis labels.
///
///     try ConfusionMatrixChart(classNames: ["axion", "cdm", "no_sub"], counts: report.confusion).writePNG(path: "confusion.png")
public struct ConfusionMatrixChart: Sendable {
    public var title: String
    public var classNames: [String]
    /// `[K, K]` counts, `counts[t * K + p]`: rows true, columns predicted.
    public var counts: [Int]
    /// Side of a cell in pixels (grown to fit the counts).
    public var cellSize: Int

    public init(title: String = "Confusion matrix", classNames: [String], counts: [Int], cellSize: Int = 72) {
        precondition(counts.count == classNames.count * classNames.count, "counts must be [K, K]")
        self.title = title
        self.classNames = classNames
        self.counts = counts
        self.cellSize = cellSize
    }

    public func render() throws -> RGBImage { render(text: try TextRenderer()) }
    public func render(text: TextRenderer) -> RGBImage { renderWithLayout(text: text).image }
    public func writePNG(path: String) throws { try render().writePNG(path: path) }

    /// Where the parts went (for tests).
    struct Layout {
        var titleBand: PixelRect
        var grid: PixelRect
        var trueLabel: PixelRect
        var predictedLabel: PixelRect
        var cell: Int
    }

    /// Matplotlib's "Blues", light to dark, at share `t` in [0, 1].
    static func shade(_ t: Double) -> RGB {
        let stops = [RGB(247, 251, 255), RGB(198, 219, 239), RGB(107, 174, 214), RGB(33, 113, 181), RGB(8, 48, 107)]
        let x = min(max(t, 0), 1) * Double(stops.count - 1)
        let i = min(Int(x), stops.count - 2)
        return RGB.mix(stops[i], stops[i + 1], x - Double(i))
    }

    func renderWithLayout(text: TextRenderer) -> (image: RGBImage, layout: Layout) {
        let S = ChartStyle.self, K = classNames.count
        let subtitle = "cell: count (share of the true class)"
        let countSize = 14, shareSize = 11
        let widestCount = counts.map { text.width(String($0), size: countSize) }.max() ?? 0
        let cell = max(cellSize, widestCount + 16, text.lineHeight(size: countSize) + text.lineHeight(size: shareSize) + 12)
        let nameW = classNames.map { text.width($0, size: S.labelSize) }.max() ?? 0
        let labelH = text.lineHeight(size: S.labelSize)
        let rotateColumns = nameW > cell - 6
        let columnNamesH = rotateColumns ? nameW : labelH
        let titleH = text.lineHeight(size: S.titleSize), subH = text.lineHeight(size: shareSize)
        let gridX = S.pad + labelH + 10 + nameW + 8
        let gridY = S.pad + titleH + 4 + subH + 12
        let gridW = K * cell
        let width = max(gridX + gridW + S.pad + 8, text.width(title, size: S.titleSize) + 2 * S.pad,
                        text.width(subtitle, size: shareSize) + 2 * S.pad)
        let height = gridY + gridW + 6 + columnNamesH + 8 + labelH + S.pad
        var image = RGBImage(width: width, height: height, fill: (255, 255, 255))
        let grid = PixelRect(x: gridX, y: gridY, width: gridW, height: gridW)
        let centre = grid.x + grid.width / 2
        let titleX = min(max(centre, text.width(title, size: S.titleSize) / 2 + S.pad), width - text.width(title, size: S.titleSize) / 2 - S.pad)
        let subX = min(max(centre, text.width(subtitle, size: shareSize) / 2 + S.pad), width - text.width(subtitle, size: shareSize) / 2 - S.pad)
        text.draw(title, into: &image, x: titleX, y: S.pad, size: S.titleSize, alignment: .center)
        text.draw(subtitle, into: &image, x: subX, y: S.pad + titleH + 4, size: shareSize, colour: RGB.muted, alignment: .center)

        for t in 0..<K {
            let rowTotal = (0..<K).reduce(0) { $0 + counts[t * K + $1] }
            for p in 0..<K {
                let n = counts[t * K + p]
                let share = rowTotal > 0 ? Double(n) / Double(rowTotal) : 0
                let r = PixelRect(x: grid.x + p * cell, y: grid.y + t * cell, width: cell, height: cell)
                image.fill(r, Self.shade(share))
                let ink: RGB = share > 0.55 ? .white : .ink
                let countH = text.lineHeight(size: countSize), shareH = text.lineHeight(size: shareSize)
                let top = r.y + (cell - countH - shareH) / 2
                text.draw(String(n), into: &image, x: r.x + cell / 2, y: top, size: countSize, colour: ink, alignment: .center)
                let pct = rowTotal > 0 ? String(format: "%.1f%%", 100 * share) : "–"
                text.draw(pct, into: &image, x: r.x + cell / 2, y: top + countH, size: shareSize, colour: ink, alignment: .center)
            }
        }
        // Thin white separators between cells, then the frame.
        for k in 1..<max(1, K) {
            for i in 0..<grid.width {
                image.set(x: grid.x + k * cell, y: grid.y + i, (255, 255, 255))
                image.set(x: grid.x + i, y: grid.y + k * cell, (255, 255, 255))
            }
        }
        image.stroke(PixelRect(x: grid.x - 1, y: grid.y - 1, width: grid.width + 2, height: grid.height + 2), S.axis)

        for (i, name) in classNames.enumerated() {
            text.draw(name, into: &image, x: grid.x - 8, y: grid.y + i * cell + (cell - labelH) / 2, size: S.labelSize, alignment: .right)
            let cx = grid.x + i * cell + cell / 2
            if rotateColumns {
                text.draw(name, into: &image, x: cx - labelH / 2, y: grid.maxY + 6, size: S.labelSize, alignment: .right, rotated: true)
            } else {
                text.draw(name, into: &image, x: cx, y: grid.maxY + 6, size: S.labelSize, alignment: .center)
            }
        }
        let predictedLabel = PixelRect(x: grid.x, y: grid.maxY + 6 + columnNamesH + 8, width: grid.width, height: labelH)
        text.draw("predicted", into: &image, x: centre, y: predictedLabel.y, size: S.labelSize, alignment: .center)
        let trueLabel = PixelRect(x: S.pad, y: grid.y, width: labelH, height: grid.height)
        text.draw("true", into: &image, x: trueLabel.x, y: grid.y + grid.height / 2, size: S.labelSize, alignment: .center, rotated: true)
        return (image, Layout(titleBand: PixelRect(x: 0, y: S.pad, width: width, height: titleH), grid: grid,
                              trueLabel: trueLabel, predictedLabel: predictedLabel, cell: cell))
    }
}
