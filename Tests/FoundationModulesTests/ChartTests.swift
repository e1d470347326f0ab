import Foundation
import Testing
@testable import Render
import _TestSupport

/// Charts and their text: every chart writes a PNG; text really lands in the title and axis-label
/// bands, nothing is clipped at the canvas edge, and series colours appear in the plot area.
@Suite struct ChartTests {
    static let dir = TestSupport.tempDir("charts")

    /// Pixels in `r` darker than mid grey (text and axes are ink, the background white).
    static func darkPixels(_ image: RGBImage, in r: PixelRect) -> Int {
        var n = 0
        for y in max(0, r.y)..<min(image.height, r.maxY) {
            for x in max(0, r.x)..<min(image.width, r.maxX) {
                let i = 3 * (y * image.width + x)
                if Int(image.bytes[i]) + Int(image.bytes[i + 1]) + Int(image.bytes[i + 2]) < 3 * 110 { n += 1 }
            }
        }
        return n
    }

    /// Pixels in `r` within `tolerance` of `colour` in every channel.
    static func pixels(of colour: RGB, _ image: RGBImage, in r: PixelRect, tolerance: Int = 12) -> Int {
        var n = 0
        for y in max(0, r.y)..<min(image.height, r.maxY) {
            for x in max(0, r.x)..<min(image.width, r.maxX) {
                let i = 3 * (y * image.width + x)
                if abs(Int(image.bytes[i]) - Int(colour.r)) <= tolerance && abs(Int(image.bytes[i + 1]) - Int(colour.g)) <= tolerance
                    && abs(Int(image.bytes[i + 2]) - Int(colour.b)) <= tolerance { n += 1 }
            }
        }
        return n
    }

    /// The outermost `width` pixels are all background: nothing was drawn past the canvas edge.
    static func borderIsBlank(_ image: RGBImage, width w: Int = 3) -> Bool {
        for y in 0..<image.height {
            for x in 0..<image.width where x < w || y < w || x >= image.width - w || y >= image.height - w {
                let i = 3 * (y * image.width + x)
                if image.bytes[i] != 255 || image.bytes[i + 1] != 255 || image.bytes[i + 2] != 255 { return false }
            }
        }
        return true
    }

    /// Bounding box of the dark pixels of an image.
    static func inkBox(_ image: RGBImage) -> PixelRect? {
        var (x0, y0, x1, y1) = (Int.max, Int.max, -1, -1)
        for y in 0..<image.height {
            for x in 0..<image.width where image.bytes[3 * (y * image.width + x)] < 160 {
                x0 = min(x0, x); y0 = min(y0, y); x1 = max(x1, x); y1 = max(y1, y)
            }
        }
        return x1 < 0 ? nil : PixelRect(x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1)
    }

    static func write(_ image: RGBImage, _ name: String) throws {
        let path = dir + "/" + name
        try image.writePNG(path: path)
        let back = try RGBImage.readPNG(path: path)
        #expect(back.bytes == image.bytes)
        print("wrote \(path)")
    }

    @Test func textWidthGrowsWithLengthAndMatchesTheInk() throws {
        let text = try TextRenderer()
        let widths = ["", "l", "lo", "los", "loss", "loss per step"].map { text.width($0, size: 14) }
        #expect(widths[0] == 0)
        #expect(zip(widths, widths.dropFirst()).allSatisfy { $0 < $1 })
        #expect(text.width("loss", size: 24) > text.width("loss", size: 12))
        #expect(text.lineHeight(size: 14) >= 14 && text.lineHeight(size: 14) <= 20)

        var image = RGBImage(width: 200, height: 200, fill: (255, 255, 255))
        text.draw("Hello, lens", into: &image, x: 100, y: 20, size: 14, alignment: .center)
        let box = try #require(Self.inkBox(image))
        let w = text.width("Hello, lens", size: 14)
        #expect(abs(box.width - w) <= 3)
        #expect(abs((box.x + box.width / 2) - 100) <= 2)  // centred
        #expect(box.y >= 20 && box.maxY <= 20 + text.lineHeight(size: 14))

        var rotated = RGBImage(width: 200, height: 200, fill: (255, 255, 255))
        text.draw("Hello, lens", into: &rotated, x: 30, y: 100, size: 14, alignment: .center, rotated: true)
        let rbox = try #require(Self.inkBox(rotated))
        #expect(abs(rbox.height - w) <= 3)  // the text runs upwards
        #expect(rbox.width < text.lineHeight(size: 14) + 1 && rbox.x >= 30)
        #expect(abs((rbox.y + rbox.height / 2) - 100) <= 2)
        // Right-aligned text ends at x.
        var right = RGBImage(width: 200, height: 40, fill: (255, 255, 255))
        text.draw("0.25", into: &right, x: 150, y: 5, size: 11, alignment: .right)
        let rb = try #require(Self.inkBox(right))
        #expect(rb.maxX <= 151 && rb.maxX >= 147)
    }

    @Test func missingFontNamesTheFileAndThePackage() {
        #expect {
            try TextRenderer(fontPath: "/no/such/font.ttf")
        } throws: { error in
            let d = String(describing: error)
            return d.contains("/no/such/font.ttf") && d.contains("fonts-dejavu-core")
        }
    }

    @Test func niceTicks() {
        let unit = AxisScale.linear(0, 1)
        #expect(unit.ticks.map { ($0 * 10).rounded() } == [0, 2, 4, 6, 8, 10])
        #expect(unit.labels == ["0.0", "0.2", "0.4", "0.6", "0.8", "1.0"])
        #expect(unit.lower < 0 && unit.upper > 1)
        #expect(AxisScale.linear(0, 10000).labels.last == "10000")
        #expect(AxisScale.linear(0, 1, target: 5).labels == ["0.00", "0.25", "0.50", "0.75", "1.00"])
        let log = AxisScale.log10(0.001, 10)
        #expect(log.labels == ["0.001", "0.01", "0.1", "1", "10"])
        #expect(AxisScale.log10(0.5, 4).labels == ["0.5", "1", "2"])
        #expect(AxisScale.log10(1e-7, 1).labels.first == "1e-7")
        #expect(AxisScale.log10(3.1, 3.4).ticks.count >= 2)  // narrower than any 1-2-5 pair: linear ticks
        #expect(AxisScale.linear(5, 5).ticks.count >= 2)
    }

    @Test func lineChartHasTitleLabelsLegendAndSeries() throws {
        let steps = (0..<200).map(Double.init)
        var loss = steps.map { 5 * exp(-$0 / 50) + 0.3 }
        loss[17] = .nan  // skipped
        let chart = LineChart(title: "EsViT training", panels: [
            .init(title: "loss", xLabel: "step", yLabel: "loss", series: [
                .init(label: "train", x: steps, y: loss),
                .init(label: "validation", x: steps.filter { $0.truncatingRemainder(dividingBy: 20) == 0 },
                      y: steps.filter { $0.truncatingRemainder(dividingBy: 20) == 0 }.map { 5.2 * exp(-$0 / 55) + 0.4 }),
            ], logY: true),
            .init(title: "head entropy", xLabel: "step", yLabel: "nats", series: [
                .init(label: "mean row entropy", x: steps, y: steps.map { 6.9 * exp(-$0 / 80) }),
                .init(label: "entropy of mean", x: steps, y: steps.map { 6.9 - 0.5 * sin($0 / 30) }),
            ]),
            .init(title: "k-NN accuracy", xLabel: "step", yLabel: "accuracy",
                  series: [.init(label: "k = 20", x: [0, 50, 100, 150, 199], y: [0.34, 0.52, .nan, 0.71, 0.78])]),
        ])
        let text = try TextRenderer()
        let (image, panels, titleBand) = chart.renderWithLayout(text: text)
        try Self.write(image, "line.png")
        #expect(Self.darkPixels(image, in: titleBand) > 100)
        #expect(Self.borderIsBlank(image))
        for p in panels {
            #expect(Self.darkPixels(image, in: p.titleBand) > 50)
            #expect(Self.darkPixels(image, in: p.xLabelBand) > 20)
            #expect(Self.darkPixels(image, in: p.yLabelBand) > 20)
            // Tick labels below the plot.
            let ticks = PixelRect(x: p.plot.x, y: p.plot.maxY + 2, width: p.plot.width, height: p.xLabelBand.y - p.plot.maxY - 2)
            #expect(Self.darkPixels(image, in: ticks) > 30)
        }
        for (i, p) in panels.enumerated() {
            #expect(Self.pixels(of: RGB.series(0), image, in: p.plot) > 100, "panel \(i): first series")
            if i < 2 { #expect(Self.pixels(of: RGB.series(1), image, in: p.plot) > 30, "panel \(i): second series") }
            // Nothing of the series outside its plot area (apart from the legend there is none).
            let outside = PixelRect(x: p.bounds.x, y: p.plot.maxY + 1, width: p.bounds.width, height: p.bounds.maxY - p.plot.maxY - 1)
            #expect(Self.pixels(of: RGB.series(0), image, in: outside) == 0)
        }
    }

    @Test func rocChartDrawsEveryCurveAndTheChanceLine() throws {
        let chart = ROCChart(title: "linear probe (test)", curves: [
            .init(label: "axion", falsePositiveRate: [0, 0, 0.1, 0.3, 1], truePositiveRate: [0, 0.5, 0.8, 0.95, 1], auc: 0.93),
            .init(label: "cdm", falsePositiveRate: [0, 0.2, 0.5, 1], truePositiveRate: [0, 0.6, 0.8, 1], auc: 0.77),
            .init(label: "no_sub", falsePositiveRate: [0, 0.05, 1], truePositiveRate: [0, 0.9, 1], auc: 0.9425),
        ])
        let (image, layout) = chart.renderWithLayout(text: try TextRenderer())
        try Self.write(image, "roc.png")
        #expect(Self.borderIsBlank(image))
        #expect(Self.darkPixels(image, in: layout.titleBand) > 50)
        #expect(Self.darkPixels(image, in: layout.xLabelBand) > 20 && Self.darkPixels(image, in: layout.yLabelBand) > 20)
        for i in 0..<3 { #expect(Self.pixels(of: RGB.series(i), image, in: layout.plot) > 50) }
        // The chance diagonal passes through the plot centre (grey).
        let centre = PixelRect(x: Int(layout.px(0.5)) - 2, y: Int(layout.py(0.5)) - 2, width: 5, height: 5)
        #expect(Self.pixels(of: RGB(150, 150, 150), image, in: centre, tolerance: 40) > 0)
    }

    @Test func confusionMatrixPrintsCountsAndClassNames() throws {
        let chart = ConfusionMatrixChart(classNames: ["axion", "cdm", "no_sub"], counts: [812, 95, 93, 120, 700, 180, 30, 61, 909])
        let (image, layout) = chart.renderWithLayout(text: try TextRenderer())
        try Self.write(image, "confusion.png")
        #expect(Self.borderIsBlank(image))
        #expect(Self.darkPixels(image, in: layout.titleBand) > 50)
        #expect(Self.darkPixels(image, in: layout.trueLabel) > 10)
        #expect(Self.darkPixels(image, in: layout.predictedLabel) > 20)
        // Class names left of the rows and under the columns.
        let left = PixelRect(x: layout.trueLabel.maxX + 2, y: layout.grid.y, width: layout.grid.x - layout.trueLabel.maxX - 4, height: layout.grid.height)
        #expect(Self.darkPixels(image, in: left) > 60)
        let below = PixelRect(x: layout.grid.x, y: layout.grid.maxY + 2, width: layout.grid.width, height: layout.predictedLabel.y - layout.grid.maxY - 2)
        #expect(Self.darkPixels(image, in: below) > 60)
        // Each cell has text: dark digits on light cells, white digits on dark (diagonal) cells.
        let c = layout.cell
        for t in 0..<3 {
            for p in 0..<3 {
                let r = PixelRect(x: layout.grid.x + p * c + c / 4, y: layout.grid.y + t * c + c / 4, width: c / 2, height: c / 2)
                let share = Double(chart.counts[t * 3 + p]) / Double((0..<3).reduce(0) { $0 + chart.counts[t * 3 + $1] })
                let ink = share > 0.55 ? Self.pixels(of: .white, image, in: r, tolerance: 30) : Self.darkPixels(image, in: r)
                #expect(ink > 15, "cell \(t),\(p)")
            }
        }
        // Diagonal cells are darker than off-diagonal ones.
        let corner = PixelRect(x: layout.grid.x + 2, y: layout.grid.y + 2, width: 3, height: 3)
        #expect(Self.pixels(of: ConfusionMatrixChart.shade(812.0 / 1000), image, in: corner, tolerance: 2) == 9)
    }

    @Test func longClassNamesAreRotatedAndNothingIsClipped() throws {
        let names = ["no substructure", "cold dark matter", "axion (vortex)", "sphere"]
        let counts = (0..<16).map { $0 % 5 == 0 ? 400 + $0 : 7 * $0 }
        let (image, layout) = ConfusionMatrixChart(title: "k-NN, k = 20", classNames: names, counts: counts).renderWithLayout(text: try TextRenderer())
        try Self.write(image, "confusion-long-names.png")
        #expect(Self.borderIsBlank(image))
        let below = PixelRect(x: layout.grid.x, y: layout.grid.maxY + 2, width: layout.grid.width, height: layout.predictedLabel.y - layout.grid.maxY - 2)
        #expect(below.height > layout.cell)  // rotated names need more than a cell's height
        #expect(Self.darkPixels(image, in: below) > 200)
        // A line chart with nothing finite to draw still has its axes and text.
        let empty = LineChart(panels: [.init(title: "nothing yet", xLabel: "step", yLabel: "loss", series: [.init(label: "train", x: [0, 1], y: [.nan, .nan])], logY: true)])
        let (e, panels, _) = empty.renderWithLayout(text: try TextRenderer())
        try Self.write(e, "line-empty.png")
        #expect(Self.borderIsBlank(e) && Self.darkPixels(e, in: panels[0].titleBand) > 30)
    }

    @Test func scatterChartHasPointsAndTheDiagonal() throws {
        let truth = (0..<300).map { Double($0) / 300 * 4 + 1 }
        let predicted = truth.enumerated().map { $1 + 0.3 * sin(Double($0) * 1.7) }
        let chart = ScatterChart(title: "axion mass (test)", xLabel: "true mass", yLabel: "predicted mass",
                                 series: [.init(label: "linear probe", x: truth, y: predicted)])
        let (image, layout) = chart.renderWithLayout(text: try TextRenderer())
        try Self.write(image, "scatter.png")
        #expect(Self.borderIsBlank(image))
        #expect(Self.darkPixels(image, in: layout.titleBand) > 50)
        #expect(Self.darkPixels(image, in: layout.xLabelBand) > 20 && Self.darkPixels(image, in: layout.yLabelBand) > 20)
        #expect(layout.x.lower == layout.y.lower && layout.x.upper == layout.y.upper)
        #expect(layout.plot.width == layout.plot.height)  // y = x at 45°
        #expect(Self.pixels(of: RGB.series(0), image, in: layout.plot, tolerance: 60) > 200)
    }
}
