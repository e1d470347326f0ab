/// Predicted against true values as translucent dots, with the line `y = x` and equal ranges on
/// both axes, so distance from the diagonal is the error (for regression, e.g. the axion mass).
///
///     let chart = ScatterChart(title: "axion mass", xLabel: "true m", yLabel: "predicted m",
///                              series: [.init(label: "test", x: truth, y: predicted)])
public struct ScatterChart: Sendable {
    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [ChartSeries]
    /// Draw `y = x` and use the same range on both axes (and a square plot area).
    public var identityLine: Bool
    public var width: Int
    public var height: Int
    public var pointRadius: Double
    public var pointAlpha: Float

    public init(title: String = "", xLabel: String = "true", yLabel: String = "predicted", series: [ChartSeries],
                identityLine: Bool = true, width: Int = 520, height: Int = 500, pointRadius: Double = 2.5, pointAlpha: Float = 0.6) {
        self.title = title
        self.xLabel = xLabel
        self.yLabel = yLabel
        self.series = series
        self.identityLine = identityLine
        self.width = width
        self.height = height
        self.pointRadius = pointRadius
        self.pointAlpha = pointAlpha
    }

    public func render() throws -> RGBImage { render(text: try TextRenderer()) }
    public func render(text: TextRenderer) -> RGBImage { renderWithLayout(text: text).image }
    public func writePNG(path: String) throws { try render().writePNG(path: path) }

    func renderWithLayout(text: TextRenderer) -> (image: RGBImage, layout: PanelLayout) {
        let points = series.map { $0.finitePoints() }
        let all = points.flatMap { $0 }
        var (xlo, xhi) = (all.map(\.0).min() ?? 0, all.map(\.0).max() ?? 1)
        var (ylo, yhi) = (all.map(\.1).min() ?? 0, all.map(\.1).max() ?? 1)
        if identityLine { (xlo, xhi) = (min(xlo, ylo), max(xhi, yhi)); (ylo, yhi) = (xlo, xhi) }
        let full = PanelLayout.make(bounds: PixelRect(x: 0, y: 0, width: width, height: height), title: title,
                                      xLabel: xLabel, yLabel: yLabel, x: .linear(xlo, xhi), y: .linear(ylo, yhi), text: text)
        let layout = identityLine ? full.squared() : full
        var image = RGBImage(width: layout.bounds.width, height: layout.bounds.height, fill: (255, 255, 255))
        layout.drawAxes(into: &image, title: title, xLabel: xLabel, yLabel: yLabel, text: text)
        var entries: [LegendEntry] = []
        var pixels: [(Double, Double)] = []
        for (s, series) in series.enumerated() {
            let colour = series.colour ?? RGB.series(s)
            for p in points[s] {
                let q = (layout.px(p.0), layout.py(p.1))
                image.dot(q.0, q.1, radius: pointRadius, colour, alpha: pointAlpha, clip: layout.plot)
                pixels.append(q)
            }
            entries.append(LegendEntry(label: series.label, colour: colour, mark: .dot))
        }
        if identityLine {
            let lo = layout.x.lower, hi = layout.x.upper
            image.dashedLine(layout.px(lo), layout.py(lo), layout.px(hi), layout.py(hi), width: 1.5, ChartStyle.axis, clip: layout.plot)
            entries.append(LegendEntry(label: "y = x", colour: ChartStyle.axis, mark: .dashed))
            for t in stride(from: 0.0, through: 1.0, by: 0.05) {
                let v = lo + t * (hi - lo)
                pixels.append((layout.px(v), layout.py(v)))
            }
        }
        layout.drawFrame(into: &image)
        if entries.count > 1 || !(series.first?.label.isEmpty ?? true) {
            let size = Legend.size(entries, text: text)
            Legend.draw(entries, in: Legend.place(width: size.width, height: size.height, in: layout.plot, avoiding: pixels),
                        into: &image, text: text)
        }
        return (image, layout)
    }
}
