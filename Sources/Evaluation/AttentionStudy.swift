import Cropping
import Foundation
import LensData
import MiniTrain
import Render
import ShardWriter

/// `lenspipe attention`: the first `count` images of shards (as stored) or of any source (cropped and
/// normalised as `preprocess` does by default) through a checkpoint's network, their `AttentionMaps`,
/// a figure and a report with the lens-attention ratios.
public struct AttentionStudy: Sendable {
    public struct ImageReport: Codable, Sendable {
        public var id: String
        public var label: String?
        public var foregroundArea: Double
        /// Lens-attention ratio of each head's query-averaged map, of their mean, of the brightest
        /// token's mean map and of the token-to-pooled similarity (shifted to be non-negative and
        /// scaled to sum 1); nil without foreground.
        public var ratioPerHead: [Double?]
        public var ratio: Double?
        public var ratioBrightest: Double?
        public var ratioSimilarity: Double?
    }

    public struct Report: Codable, Sendable {
        public var checkpoint: String
        public var input: String
        public var network: String
        public var inputSize: Int
        public var grid: Int
        public var heads: Int
        public var images: [ImageReport]
        /// Over the images with foreground: mean and median of `ratio`, and mean per head.
        public var meanRatio: Double?
        public var medianRatio: Double?
        public var meanRatioPerHead: [Double?]
        public var meanRatioBrightest: Double?
        public var imagesWithoutForeground: Int
        public var figure: String?
    }

    /// Reads the first `count` images of `input` with their foreground masks.
    public static func readImages(_ input: String, count: Int, size: Int) throws -> (images: [LensImage], masks: [[Bool]], ids: [String], labels: [String?]) {
        let source = try MDSSource.open(SourceSpec(input))
        let stored = source as? MDSSource
        let cropper = Cropper(config: CropConfig(size: size))
        let detector = ForegroundDetector(config: CropConfig())
        var images: [LensImage] = [], masks: [[Bool]] = [], ids: [String] = [], labels: [String?] = []
        // Evenly spaced through the input, so class-ordered shards show every class.
        let n = min(count, source.count)
        for index in (0..<n).map({ $0 * source.count / n }) {
            let s = try source.sample(at: index)
            var image = s.image, mask = s.foreground
            if stored == nil {
                let c = cropper.cropWithForeground(s.image)
                (image, mask) = (c.image, c.foreground)
            } else if mask == nil {
                // Normalised shards without the foreground column: detect on the linearised image.
                let plane = stored?.normalization?.linearized(image) ?? image.channelSum()
                mask = detector.detect(plane: plane, width: image.width, height: image.height).mask
            }
            images.append(image)
            masks.append(mask ?? [])
            ids.append(s.id)
            labels.append(s.label.flatMap { $0 < source.classes.count ? source.classes[$0] : String($0) })
        }
        guard !images.isEmpty else { throw LensDataError(path: input, "no images") }
        return (images, masks, ids, labels)
    }

    public static func run(checkpoint: String, input: String, count: Int, network choice: String, figure: String?,
                           progress: ((Int) -> Void)? = nil) throws -> Report {
        let (trainer, size) = try FrozenEvaluation.open(checkpoint: checkpoint, shards: input, channels: nil)
        let (images, masks, ids, labels) = try readImages(input, count: count, size: size)
        if let bad = images.firstIndex(where: { $0.channels != images[0].channels }) {
            throw LensDataError(path: input, "image \(bad) (\(ids[bad])) has \(images[bad].channels) channels, image 0 has \(images[0].channels)")
        }
        try Checkpoint.checkFits(trainer.config, checkpoint: checkpoint, shards: input, channels: images[0].channels, size: size)
        let arena = choice == "student" ? trainer.student : trainer.teacher
        let maps = AttentionMaps.compute(images: images, masks: masks, network: trainer.network, arena: arena, size: size)
        progress?(maps.count)
        var rows: [ImageReport] = []
        for (i, m) in maps.enumerated() {
            let shifted = m.similarity.map { $0 - (m.similarity.min() ?? 0) }
            let total = shifted.reduce(0, +)
            rows.append(ImageReport(id: ids[i], label: labels[i], foregroundArea: Double(m.foregroundArea),
                                    ratioPerHead: m.queryAveraged.map { m.lensRatio($0) }, ratio: m.lensRatio(m.meanQueryAveraged),
                                    ratioBrightest: m.lensRatio(m.meanBrightest),
                                    ratioSimilarity: total > 0 ? m.lensRatio(shifted.map { $0 / total }) : nil))
        }
        let H = maps.first?.heads ?? 0
        func mean(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count) }
        let ratios = rows.compactMap(\.ratio).sorted()
        let report = Report(checkpoint: checkpoint, input: input, network: choice, inputSize: size, grid: maps.first?.side ?? 0, heads: H,
                            images: rows, meanRatio: mean(ratios), medianRatio: ratios.isEmpty ? nil : ratios[ratios.count / 2],
                            meanRatioPerHead: (0..<H).map { h in mean(rows.compactMap { $0.ratioPerHead[h] }) },
                            meanRatioBrightest: mean(rows.compactMap(\.ratioBrightest)),
                            imagesWithoutForeground: rows.filter { $0.ratio == nil }.count, figure: figure)
        if let figure { try drawFigure(maps: maps, rows: rows, report: report, to: figure) }
        return report
    }

    static func drawFigure(maps: [AttentionMaps], rows: [ImageReport], report: Report, to path: String) throws {
        let H = report.heads
        let titles = ["image", "lens mask", "heads mean", "brightest", "~ pooled"]
            + (0..<H).map { "head \($0 + 1)" } + (0..<H).map { "h\($0 + 1) bright" }
        func fmt(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "n/a" }
        let sheetRows = zip(maps, rows).map { m, r in
            AttentionSheet.Row(label: [String(r.id.prefix(22)), r.label ?? "", "lens ratio \(fmt(r.ratio))", "lens area \(String(format: "%.0f%%", 100 * r.foregroundArea))"],
                               image: m.input, size: m.inputSize,
                               maps: [nil, m.foreground, m.meanQueryAveraged, m.meanBrightest, m.similarity] + m.queryAveraged.map { Optional($0) }
                                   + m.brightest.map { Optional($0) })
        }
        let title = "Last-stage attention (\(report.grid)x\(report.grid) tokens, \(H) heads, \(report.network)); lens ratio = attention on the lens / lens area (1 = no preference), mean \(fmt(report.meanRatio))\nColumns: the lens mask; query-averaged attention (mean of heads, then per head); the brightest token's attention; each token's cosine similarity to the pooled feature"
        try AttentionSheet(title: title, columnTitles: titles, rows: sheetRows).writePNG(path: path)
    }
}
