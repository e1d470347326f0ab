import Foundation

/// One-vs-rest ROC curves, one per class, with the chance diagonal and the AUC of each class in the
/// legend. Takes plain arrays, e.g. `FeatureMetrics.ROCCurve`'s `falsePositiveRate`, `truePositiveRate`, `auc`.
///
///     let chart = ROCChart(title: "linear probe, test", curves: zip(names, report.roc).map {
///         ROCChart.Curve(label: $0, falsePositiveRate: $1.falsePositiveRate, truePositiveRate: $1.truePositiveRate, auc: $1.auc)
///     })
public struct ROCChart: Sendable {
    public struct Curve: Sendable {
        public var label: String
        /// `[n]` and `[n]`, from (0, 0) to (1, 1).
        public var falsePositiveRate: [Double]
        public var truePositiveRate: [Double]
        /// Shown in the legend (omitted when NaN).
        public var auc: Double
        public var colour: RGB?

        public init(label: String, falsePositiveRate: [Double], truePositiveRate: [Double], auc: Double, colour: RGB? = nil) {
            precondition(falsePositiveRate.count == truePositiveRate.count)
            self.label = label
            self.falsePositiveRate = falsePositiveRate
            self.truePositiveRate = truePositiveRate
            self.auc = auc
            self.colour = colour
        }
    }

    public var title: String
    public var curves: [Curve]
    public var size: Int

    public init(title: String = "ROC curves (one vs rest)", curves: [Curve], size: Int = 520) {
        self.title = title
        self.curves = curves
        self.size = size
    }

    public func render() throws -> RGBImage { render(text: try TextRenderer()) }
    public func render(text: TextRenderer) -> RGBImage { renderWithLayout(text: text).image }
    public func writePNG(path: String) throws { try render().writePNG(path: path) }

    func renderWithLayout(text: TextRenderer) -> (image: RGBImage, layout: PanelLayout) {
        let xLabel = "false positive rate", yLabel = "true positive rate"
        let layout = PanelLayout.make(bounds: PixelRect(x: 0, y: 0, width: size, height: size), title: title, xLabel: xLabel,
                                      yLabel: yLabel, x: .fixed(0, 1, step: 0.2), y: .fixed(0, 1, step: 0.2), text: text).squared()
        var image = RGBImage(width: layout.bounds.width, height: layout.bounds.height, fill: (255, 255, 255))
        layout.drawAxes(into: &image, title: title, xLabel: xLabel, yLabel: yLabel, text: text)
        image.dashedLine(layout.px(0), layout.py(0), layout.px(1), layout.py(1), width: 1.5, RGB(150, 150, 150), clip: layout.plot)
        var entries: [LegendEntry] = []
        var pixels: [(Double, Double)] = []
        for (i, curve) in curves.enumerated() {
            let colour = curve.colour ?? RGB.series(i)
            let p = zip(curve.falsePositiveRate, curve.truePositiveRate).filter { $0.0.isFinite && $0.1.isFinite }
                .map { (layout.px($0.0), layout.py($0.1)) }
            for j in 1..<max(1, p.count) { image.line(p[j - 1].0, p[j - 1].1, p[j].0, p[j].1, width: ChartStyle.seriesWidth, colour, clip: layout.plot) }
            pixels += p
            let auc = curve.auc.isNaN ? "" : String(format: " (AUC %.3f)", curve.auc)
            entries.append(LegendEntry(label: curve.label + auc, colour: colour, mark: .line))
        }
        entries.append(LegendEntry(label: "chance (AUC 0.5)", colour: RGB(150, 150, 150), mark: .dashed))
        for t in stride(from: 0.0, through: 1.0, by: 0.05) { pixels.append((layout.px(t), layout.py(t))) }
        layout.drawFrame(into: &image)
        let legend = Legend.size(entries, text: text)
        Legend.draw(entries, in: Legend.place(width: legend.width, height: legend.height, in: layout.plot, avoiding: pixels),
                    into: &image, text: text)
        return (image, layout)
    }
}
