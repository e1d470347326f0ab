/// Sizes and spacing shared by every chart (pixels).
enum ChartStyle {
    static let titleSize = 16
    static let labelSize = 13
    static let tickSize = 11
    static let legendSize = 12
    static let pad = 12
    static let tickLength = 4
    static let axis = RGB(90, 90, 90)
    static let seriesWidth = 2.0
}

/// Where one panel's parts go: the title band, the plot area, the axis-label bands, and the scales.
struct PanelLayout: Sendable {
    var bounds: PixelRect
    var titleBand: PixelRect
    var plot: PixelRect
    var xLabelBand: PixelRect
    var yLabelBand: PixelRect
    var x: AxisScale
    var y: AxisScale

    /// Continuous pixel x of data value `v` (pixel centres from the plot's first to last column).
    func px(_ v: Double) -> Double { Double(plot.x) + x.fraction(v) * Double(plot.width - 1) + 0.5 }
    /// Continuous pixel y of data value `v` (up is larger).
    func py(_ v: Double) -> Double { Double(plot.maxY - 1) - y.fraction(v) * Double(plot.height - 1) + 0.5 }

    /// Lays out a panel in `bounds` from the texts it must fit.
    static func make(bounds: PixelRect, title: String, xLabel: String, yLabel: String, x: AxisScale, y: AxisScale,
                     text: TextRenderer) -> PanelLayout {
        let S = ChartStyle.self
        let titleH = title.isEmpty ? 0 : text.lineHeight(size: S.titleSize)
        let labelH = text.lineHeight(size: S.labelSize), tickH = text.lineHeight(size: S.tickSize)
        let yTickW = y.labels.map { text.width($0, size: S.tickSize) }.max() ?? 0
        let lastXTickHalf = (x.labels.last.map { text.width($0, size: S.tickSize) } ?? 0) / 2 + 2
        let titleBand = PixelRect(x: bounds.x + S.pad, y: bounds.y + S.pad, width: bounds.width - 2 * S.pad, height: titleH)
        let yLabelBand = PixelRect(x: bounds.x + S.pad, y: 0, width: yLabel.isEmpty ? 0 : labelH, height: 0)
        let left = yLabelBand.maxX + (yLabel.isEmpty ? 0 : 8) + yTickW + S.tickLength + 4
        let top = titleBand.maxY + (title.isEmpty ? 0 : 10) + tickH / 2 + 2
        let xLabelY = bounds.maxY - S.pad - (xLabel.isEmpty ? 0 : labelH)
        let bottom = xLabelY - (xLabel.isEmpty ? 0 : 6) - tickH - S.tickLength - 4
        let right = bounds.maxX - S.pad - max(lastXTickHalf, 6)
        let plot = PixelRect(x: left, y: top, width: max(10, right - left), height: max(10, bottom - top))
        return PanelLayout(bounds: bounds, titleBand: titleBand, plot: plot,
                           xLabelBand: PixelRect(x: plot.x, y: xLabelY, width: plot.width, height: xLabel.isEmpty ? 0 : labelH),
                           yLabelBand: PixelRect(x: yLabelBand.x, y: plot.y, width: yLabelBand.width, height: plot.height),
                           x: x, y: y)
    }

    /// The same layout with a square plot area (for equal-range axes: ROC, predicted vs true): the
    /// longer side shrinks, and the bounds shrink with it so the canvas has no empty strip.
    func squared() -> PanelLayout {
        var l = self
        let d = plot.width - plot.height
        if d > 0 {
            l.plot.width -= d; l.bounds.width -= d; l.xLabelBand.width -= d; l.titleBand.width -= d
        } else if d < 0 {
            l.plot.height += d; l.bounds.height += d; l.xLabelBand.y += d; l.yLabelBand.height += d
        }
        return l
    }

    /// Grid, frame, ticks, tick labels, axis labels and title. Call before drawing data, so the data
    /// lies over the grid (the frame is redrawn by `drawFrame` afterwards).
    func drawAxes(into image: inout RGBImage, title: String, xLabel: String, yLabel: String, text: TextRenderer) {
        let S = ChartStyle.self
        let tickH = text.lineHeight(size: S.tickSize)
        for v in x.ticks {
            let cx = Int(px(v))
            for yy in plot.y..<plot.maxY { image.set(x: cx, y: yy, (RGB.grid.r, RGB.grid.g, RGB.grid.b)) }
            for t in 0..<S.tickLength { image.set(x: cx, y: plot.maxY + t, (S.axis.r, S.axis.g, S.axis.b)) }
        }
        for v in y.ticks {
            let cy = Int(py(v))
            for xx in plot.x..<plot.maxX { image.set(x: xx, y: cy, (RGB.grid.r, RGB.grid.g, RGB.grid.b)) }
            for t in 1...S.tickLength { image.set(x: plot.x - t, y: cy, (S.axis.r, S.axis.g, S.axis.b)) }
        }
        for (v, label) in zip(x.ticks, x.labels) {
            text.draw(label, into: &image, x: Int(px(v)), y: plot.maxY + S.tickLength + 3, size: S.tickSize, alignment: .center)
        }
        for (v, label) in zip(y.ticks, y.labels) {
            text.draw(label, into: &image, x: plot.x - S.tickLength - 4, y: Int(py(v)) - tickH / 2, size: S.tickSize, alignment: .right)
        }
        if !xLabel.isEmpty {
            text.draw(xLabel, into: &image, x: plot.x + plot.width / 2, y: xLabelBand.y, size: S.labelSize, alignment: .center)
        }
        if !yLabel.isEmpty {
            text.draw(yLabel, into: &image, x: yLabelBand.x, y: plot.y + plot.height / 2, size: S.labelSize, alignment: .center, rotated: true)
        }
        if !title.isEmpty {
            text.draw(title, into: &image, x: plot.x + plot.width / 2, y: titleBand.y, size: S.titleSize, alignment: .center)
        }
        drawFrame(into: &image)
    }

    /// The one-pixel box around the plot area.
    func drawFrame(into image: inout RGBImage) {
        image.stroke(PixelRect(x: plot.x - 1, y: plot.y - 1, width: plot.width + 2, height: plot.height + 2), ChartStyle.axis)
    }
}

/// One entry of a legend: a sample of the mark and its label.
struct LegendEntry: Sendable {
    enum Mark: Sendable { case line, lineWithDot, dashed, dot, box }
    var label: String
    var colour: RGB
    var mark: Mark
}

/// A framed legend box inside a plot, in the corner that hides the fewest data points.
enum Legend {
    static let sample = 24, gap = 6, inset = 8

    static func size(_ entries: [LegendEntry], text: TextRenderer) -> (width: Int, height: Int) {
        let w = entries.map { text.width($0.label, size: ChartStyle.legendSize) }.max() ?? 0
        let lh = text.lineHeight(size: ChartStyle.legendSize) + 2
        return (inset * 2 + sample + gap + w, inset * 2 + lh * entries.count - 2)
    }

    /// The corner rectangle (top-right, top-left, bottom-right, bottom-left, in that preference) that
    /// covers the fewest of `points` (pixel coordinates).
    static func place(width: Int, height: Int, in plot: PixelRect, avoiding points: [(Double, Double)]) -> PixelRect {
        let m = 8
        let corners = [
            PixelRect(x: plot.maxX - m - width, y: plot.y + m, width: width, height: height),
            PixelRect(x: plot.x + m, y: plot.y + m, width: width, height: height),
            PixelRect(x: plot.maxX - m - width, y: plot.maxY - m - height, width: width, height: height),
            PixelRect(x: plot.x + m, y: plot.maxY - m - height, width: width, height: height),
        ]
        var best = corners[0], bestCount = Int.max
        for r in corners {
            let grown = PixelRect(x: r.x - 4, y: r.y - 4, width: r.width + 8, height: r.height + 8)
            let count = points.reduce(0) { $0 + (grown.contains($1.0, $1.1) ? 1 : 0) }
            if count < bestCount { best = r; bestCount = count }
        }
        return best
    }

    static func draw(_ entries: [LegendEntry], in box: PixelRect, into image: inout RGBImage, text: TextRenderer) {
        guard !entries.isEmpty else { return }
        for yy in box.y..<box.maxY { for xx in box.x..<box.maxX { image.blend(x: xx, y: yy, .white, alpha: 0.9) } }
        image.stroke(box, RGB(200, 200, 200))
        let lh = text.lineHeight(size: ChartStyle.legendSize) + 2
        for (i, e) in entries.enumerated() {
            let top = box.y + inset + i * lh
            let cy = Double(top) + Double(lh - 2) / 2, x0 = Double(box.x + inset), x1 = x0 + Double(sample)
            switch e.mark {
            case .line: image.line(x0, cy, x1, cy, width: ChartStyle.seriesWidth, e.colour)
            case .lineWithDot:
                image.line(x0, cy, x1, cy, width: ChartStyle.seriesWidth, e.colour)
                image.dot((x0 + x1) / 2, cy, radius: 3, e.colour)
            case .dashed: image.dashedLine(x0, cy, x1, cy, width: 1.5, e.colour, on: 5, off: 3)
            case .dot: image.dot((x0 + x1) / 2, cy, radius: 3.5, e.colour)
            case .box: image.fill(PixelRect(x: Int(x0) + 4, y: Int(cy) - 5, width: sample - 8, height: 10), e.colour)
            }
            text.draw(e.label, into: &image, x: box.x + inset + sample + gap, y: top, size: ChartStyle.legendSize)
        }
    }
}
