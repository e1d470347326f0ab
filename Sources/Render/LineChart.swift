/// One data series of a chart: a label for the legend, a colour (the palette's next one when nil),
/// and its points. Points with a non-finite coordinate are skipped (and, on a log axis, values ≤ 0).
public struct ChartSeries: Sendable {
    public var label: String
    public var colour: RGB?
    /// `[n]` x values and `[n]` y values.
    public var x: [Double]
    public var y: [Double]

    public init(label: String, x: [Double], y: [Double], colour: RGB? = nil) {
        precondition(x.count == y.count, "a series needs as many x as y values")
        self.label = label
        self.x = x
        self.y = y
        self.colour = colour
    }

    /// The points that can be drawn, in order.
    func finitePoints(logY: Bool = false) -> [(Double, Double)] {
        zip(x, y).filter { $0.0.isFinite && $0.1.isFinite && (!logY || $0.1 > 0) }
    }
}

/// Line charts in one or more panels, for training curves (loss, entropies, k-NN accuracy against
/// the step). Each panel has a title, axis labels, nice ticks, a grid and a legend; a series is drawn
/// as a line through its finite points (NaN points are skipped, the line joins their neighbours),
/// with dots when it has few points.
///
///     let chart = LineChart(title: "run 7", panels: [
///         .init(title: "loss", xLabel: "step", yLabel: "loss", series: [.init(label: "train", x: steps, y: loss)], logY: true),
///         .init(title: "k-NN accuracy", xLabel: "step", yLabel: "accuracy", series: [.init(label: "k = 20", x: evalSteps, y: acc)]),
///     ])
///     try chart.writePNG(path: "curves.png")
public struct LineChart: Sendable {
    public struct Panel: Sendable {
        public var title: String
        public var xLabel: String
        public var yLabel: String
        public var series: [ChartSeries]
        /// Logarithmic y axis (base 10).
        public var logY: Bool

        public init(title: String = "", xLabel: String = "", yLabel: String = "", series: [ChartSeries], logY: Bool = false) {
            self.title = title
            self.xLabel = xLabel
            self.yLabel = yLabel
            self.series = series
            self.logY = logY
        }
    }

    /// A title over all panels ("" for none).
    public var title: String
    public var panels: [Panel]
    /// Panels per row (default: up to 3).
    public var columns: Int
    public var panelWidth: Int
    public var panelHeight: Int

    public init(title: String = "", panels: [Panel], columns: Int? = nil, panelWidth: Int = 520, panelHeight: Int = 380) {
        precondition(!panels.isEmpty, "a chart needs at least one panel")
        self.title = title
        self.panels = panels
        self.columns = max(1, columns ?? min(3, panels.count))
        self.panelWidth = panelWidth
        self.panelHeight = panelHeight
    }

    /// Renders with DejaVu Sans (throws if the font is missing).
    public func render() throws -> RGBImage { render(text: try TextRenderer()) }

    public func render(text: TextRenderer) -> RGBImage { renderWithLayout(text: text).image }

    /// Renders and writes a PNG file.
    public func writePNG(path: String) throws { try render().writePNG(path: path) }

    /// The image, each panel's layout, and the band of the figure title (for tests).
    func renderWithLayout(text: TextRenderer) -> (image: RGBImage, panels: [PanelLayout], titleBand: PixelRect) {
        let rows = (panels.count + columns - 1) / columns
        let titleH = title.isEmpty ? 0 : text.lineHeight(size: ChartStyle.titleSize + 2) + ChartStyle.pad
        var image = RGBImage(width: columns * panelWidth, height: titleH + rows * panelHeight, fill: (255, 255, 255))
        let titleBand = PixelRect(x: 0, y: ChartStyle.pad, width: image.width, height: title.isEmpty ? 0 : titleH - ChartStyle.pad)
        if !title.isEmpty {
            text.draw(title, into: &image, x: image.width / 2, y: titleBand.y, size: ChartStyle.titleSize + 2, alignment: .center)
        }
        var layouts: [PanelLayout] = []
        for (i, panel) in panels.enumerated() {
            let bounds = PixelRect(x: (i % columns) * panelWidth, y: titleH + (i / columns) * panelHeight, width: panelWidth, height: panelHeight)
            layouts.append(Self.draw(panel, in: bounds, into: &image, text: text))
        }
        return (image, layouts, titleBand)
    }

    static func draw(_ panel: Panel, in bounds: PixelRect, into image: inout RGBImage, text: TextRenderer) -> PanelLayout {
        let points = panel.series.map { $0.finitePoints(logY: panel.logY) }
        let all = points.flatMap { $0 }
        let xs = all.map(\.0), ys = all.map(\.1)
        let xScale = AxisScale.linear(xs.min() ?? 0, xs.max() ?? 1, margin: 0.02)
        let yScale = panel.logY ? AxisScale.log10(ys.min() ?? 1, ys.max() ?? 10) : AxisScale.linear(ys.min() ?? 0, ys.max() ?? 1)
        let layout = PanelLayout.make(bounds: bounds, title: panel.title, xLabel: panel.xLabel, yLabel: panel.yLabel,
                                      x: xScale, y: yScale, text: text)
        layout.drawAxes(into: &image, title: panel.title, xLabel: panel.xLabel, yLabel: panel.yLabel, text: text)
        var entries: [LegendEntry] = []
        var pixels: [(Double, Double)] = []
        for (s, series) in panel.series.enumerated() {
            let colour = series.colour ?? RGB.series(s)
            let p = points[s].map { (layout.px($0.0), layout.py($0.1)) }
            for j in 1..<max(1, p.count) {
                image.line(p[j - 1].0, p[j - 1].1, p[j].0, p[j].1, width: ChartStyle.seriesWidth, colour, clip: layout.plot)
            }
            let dots = p.count <= 40
            if dots { for q in p { image.dot(q.0, q.1, radius: 3, colour, clip: layout.plot) } }
            pixels += p
            // Mid-points of long segments too, so the legend avoids lines and not only their ends.
            for j in 1..<max(1, p.count) { pixels.append(((p[j - 1].0 + p[j].0) / 2, (p[j - 1].1 + p[j].1) / 2)) }
            entries.append(LegendEntry(label: series.label, colour: colour, mark: dots ? .lineWithDot : .line))
        }
        layout.drawFrame(into: &image)
        if panel.series.count > 1 || !(panel.series.first?.label.isEmpty ?? true) {
            let size = Legend.size(entries, text: text)
            let box = Legend.place(width: size.width, height: size.height, in: layout.plot, avoiding: pixels)
            Legend.draw(entries, in: box, into: &image, text: text)
        }
        return layout
    }
}
