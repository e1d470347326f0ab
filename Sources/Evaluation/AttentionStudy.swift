import Cropping
import Foundation
import LensData
import MiniTrain
import Render
import ShardWriter
import Training

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
        public var network: NetworkChoice
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
        /// The per-head figure and the per-class figure (beside `figure`).
        public var headsFigure: String?
        public var classesFigure: String?
        /// Per class: images, lens ratio mean and spread, per head.
        public var classes: [ClassAttention] = []
        /// The mean lens ratio at the start (random init), the middle and the end of the run, when the
        /// checkpoint's run folder has them (`middle.safetensors`, `recipe.json`).
        public var overTraining: [TrainingPoint] = []
        /// Why `overTraining` is empty although the run folder has a middle checkpoint (nil otherwise).
        public var overTrainingSkipped: String?
    }

    /// The heads' mean lens ratio of one checkpoint of a run.
    public struct TrainingPoint: Codable, Sendable {
        public var stage: String
        public var step: Int
        public var meanRatio: Double?
        public var meanRatioPerHead: [Double?]
    }

    /// Reads the first `count` images of `input` with their foreground masks: shards as stored, a raw
    /// source cropped and normalised as the network of `metadata` expects (`DataNormalization.cropConfig`).
    public static func readImages(_ input: String, count: Int, metadata: [String: String]) throws -> (images: [LensImage], masks: [[Bool]], ids: [String], labels: [String?]) {
        let source = try MDSSource.open(SourceSpec(input))
        let stored = source as? MDSSource
        let cropper = Cropper(config: stored == nil ? DataNormalization.cropConfig(metadata: metadata, source: source) : CropConfig())
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

    /// - Parameters:
    ///   - count: images measured (evenly spaced through the input, so every class is in);
    ///   - drawn: how many of them the figures show, one row each.
    public static func run(checkpoint: String, input: String, count: Int, drawn: Int = 6, network choice: NetworkChoice, figure: String?,
                           progress: ((Int) -> Void)? = nil) throws -> Report {
        let (trainer, size) = try FrozenEvaluation.open(checkpoint: checkpoint, shards: input, channels: nil)
        let (images, masks, ids, labels) = try readImages(input, count: count, metadata: try Checkpoint.metadata(at: checkpoint))
        if let bad = images.firstIndex(where: { $0.channels != images[0].channels }) {
            throw LensDataError(path: input, "image \(bad) (\(ids[bad])) has \(images[bad].channels) channels, image 0 has \(images[0].channels)")
        }
        try Checkpoint.checkFits(trainer.config, checkpoint: checkpoint, shards: input, channels: images[0].channels, size: size)
        let arena = choice.arena(of: trainer)
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
        let ratios = rows.compactMap(\.ratio).sorted()
        var report = Report(checkpoint: checkpoint, input: input, network: choice, inputSize: size, grid: maps.first?.side ?? 0, heads: H,
                            images: rows, meanRatio: mean(ratios), medianRatio: ratios.isEmpty ? nil : ratios[ratios.count / 2],
                            meanRatioPerHead: (0..<H).map { h in mean(rows.compactMap { $0.ratioPerHead[h] }) },
                            meanRatioBrightest: mean(rows.compactMap(\.ratioBrightest)),
                            imagesWithoutForeground: rows.filter { $0.ratio == nil }.count, figure: figure)
        report.classes = ClassAttention.compute(maps: maps, rows: rows)
        do {
            report.overTraining = try overTraining(checkpoint: checkpoint, final: trainer, arena: arena, images: images, masks: masks, size: size,
                                                   choice: choice)
        } catch {
            report.overTrainingSkipped = "\(error)"  // optional: a bad middle checkpoint does not stop the study
        }
        if let figure {
            let stem = figure.hasSuffix(".png") ? String(figure.dropLast(4)) : figure
            (report.headsFigure, report.classesFigure) = (stem + "_heads.png", report.classes.isEmpty ? nil : stem + "_classes.png")
            try drawFigures(maps: Array(maps.prefix(drawn)), rows: Array(rows.prefix(drawn)), report: report)
        }
        return report
    }

    static func mean(_ xs: [Double]) -> Double? { xs.isEmpty ? nil : xs.reduce(0, +) / Double(xs.count) }

    /// The run's start (the random init its recipe's seed gives), middle (`middle.safetensors`) and end
    /// (this checkpoint): the heads' mean lens ratio of each on the same images. Empty unless the
    /// checkpoint's folder holds `recipe.json` and `middle.safetensors` (runs of this version on).
    static func overTraining(checkpoint: String, final: EsViTTrainer, arena: ParameterArena, images: [LensImage], masks: [[Bool]], size: Int,
                             choice: NetworkChoice) throws -> [TrainingPoint] {
        let folder = (checkpoint as NSString).deletingLastPathComponent
        let dir = folder.isEmpty ? "." : folder
        guard FileManager.default.fileExists(atPath: dir + "/middle.safetensors"), FileManager.default.fileExists(atPath: dir + "/recipe.json"),
              let seed = try? TrainRecipe.load(path: dir + "/recipe.json").seed else { return [] }
        let start = EsViTTrainer(config: final.config)
        start.initialize(seed: seed)
        let middle = try Checkpoint.load(from: dir + "/middle.safetensors")
        try Checkpoint.checkFits(middle.config, checkpoint: dir + "/middle.safetensors", shards: "the images", channels: final.config.inChannels, size: size)
        func point(_ stage: String, _ t: EsViTTrainer, _ a: ParameterArena) -> TrainingPoint {
            let maps = AttentionMaps.compute(images: images, masks: masks, network: t.network, arena: a, size: size)
            let H = maps.first?.heads ?? 0
            return TrainingPoint(stage: stage, step: t.step, meanRatio: mean(maps.compactMap { $0.lensRatio($0.meanQueryAveraged) }),
                                 meanRatioPerHead: (0..<H).map { h in mean(maps.compactMap { $0.lensRatio($0.queryAveraged[h]) }) })
        }
        let pick = { (t: EsViTTrainer) in choice.arena(of: t) }
        return [point("start (random init)", start, pick(start)), point("middle", middle, pick(middle)), point("end", final, arena)]
    }

    /// `figure` (one row per image: the stamp, the lens mask, the heads' mean attention, the brightest
    /// token's, the similarity to the pooled feature), the per-head figure and the per-class figure.
    static func drawFigures(maps: [AttentionMaps], rows: [ImageReport], report: Report) throws {
        guard let path = report.figure else { return }
        let dir = (path as NSString).deletingLastPathComponent
        if !dir.isEmpty { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        let H = report.heads
        func fmt(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "n/a" }
        func label(_ r: ImageReport) -> [String] {
            [r.id, r.label ?? "", "lens ratio \(fmt(r.ratio))", "lens area \(String(format: "%.0f%%", 100 * r.foregroundArea))"]
        }
        let main = zip(maps, rows).map { m, r in
            AttentionSheet.Row(label: label(r), image: m.input, size: m.inputSize, maps: [nil, m.foreground, m.meanQueryAveraged, m.meanBrightest, m.similarity])
        }
        try AttentionSheet(title: "What the last stage attends to (\(report.grid)x\(report.grid) tokens, \(H) heads, \(report.network.rawValue)): mean lens ratio \(fmt(report.meanRatio)) over \(report.images.count) images\nLens ratio = the attention on the lens / the lens's share of the area (1 = no preference, 2 = twice a uniform map's). Columns: the stamp; its lens mask; the attention each token receives, averaged over queries and heads; the attention of the brightest token; each token's cosine similarity to the pooled feature.",
                           columnTitles: ["stamp", "lens mask", "attention (heads' mean)", "brightest token's attention", "similarity to pooled"],
                           rows: main, tile: 150).writePNG(path: path)
        if let heads = report.headsFigure {
            let rows = zip(maps, rows).map { m, r in
                AttentionSheet.Row(label: [r.id, r.label ?? ""] + ["ratio per head:"] + [m.queryAveraged.map { fmt(m.lensRatio($0)) }.joined(separator: " ")],
                                   image: m.input, size: m.inputSize, maps: m.queryAveraged.map { Optional($0) })
            }
            let tile = max(60, min(120, (AttentionSheet.pageWidth - 200) / max(H, 1) - 6))
            try AttentionSheet(title: "Each head's attention (averaged over queries), \(report.network.rawValue)\nMean lens ratio per head: " + report.meanRatioPerHead.map(fmt).joined(separator: ", "),
                               columnTitles: (0..<H).map { "head \($0 + 1)" }, rows: rows, tile: tile).writePNG(path: heads)
        }
        if let classes = report.classesFigure {
            try ClassAttention.figure(report.classes, heads: H, network: report.network).writePNG(path: classes)
        }
    }
}
