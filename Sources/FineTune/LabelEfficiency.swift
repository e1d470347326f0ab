import Foundation
import LensData
import Render

/// Label efficiency: what pre-training saves. The same fine-tune (`FineTuneRun`, classification) from
/// the checkpoint and from random init (`fromScratch`), at each label fraction and seed, with the same
/// budget, labelled subset, order and augmentation; the curve of test accuracy and macro AUC against
/// the fraction, with the spread over seeds.
///
///     let curve = LabelEfficiency(base: options, fractions: [0.01, 0.1, 1], seeds: [0, 1])
///     let report = try curve.run()   // OUT/{pretrained,scratch}-f<F>-s<S>/, OUT/label_efficiency.{json,png}
///
/// A cell whose folder already holds the `report.json` of the same fine-tune (`answers`) is read, not
/// run again, so an interrupted curve resumes where it stopped. The fine-tune's protocol applies to every cell: the fraction of `train`
/// learns, the same fraction of `val` chooses the weights, `test` scores.
public struct LabelEfficiency: Sendable {
    /// Where a fine-tune starts from.
    public enum Start: String, Codable, Sendable, CaseIterable {
        case pretrained, scratch
    }

    /// One fine-tune of the curve.
    public struct Cell: Codable, Sendable {
        public var start: Start
        public var fraction: Double
        public var seed: UInt64
        public var accuracy: Double?
        public var macroAUC: Double?
        public var trainImages: Int
        public var valImages: Int
        public var steps: Int
        public var folder: String

        enum CodingKeys: String, CodingKey {
            case start, fraction, seed, accuracy, steps, folder
            case macroAUC = "macro_auc", trainImages = "train_images", valImages = "val_images"
        }
    }

    /// One start's scores at one fraction: the mean over seeds and the range.
    public struct Scores: Codable, Sendable {
        public var accuracy: Double
        public var accuracyRange: [Double]
        public var macroAUC: Double
        public var macroAUCRange: [Double]
        public var seeds: Int

        enum CodingKeys: String, CodingKey {
            case accuracy, seeds
            case accuracyRange = "accuracy_range", macroAUC = "macro_auc", macroAUCRange = "macro_auc_range"
        }
    }

    /// Both starts at one fraction, and what pre-training gained (pre-trained minus scratch means).
    public struct Point: Codable, Sendable {
        public var fraction: Double
        public var trainImages: Int
        public var pretrained: Scores?
        public var scratch: Scores?
        public var accuracyGain: Double?
        public var macroAUCGain: Double?

        enum CodingKeys: String, CodingKey {
            case fraction, pretrained, scratch
            case trainImages = "train_images", accuracyGain = "accuracy_gain", macroAUCGain = "macro_auc_gain"
        }
    }

    public struct Report: Codable, Sendable {
        public var checkpoint: String
        public var shards: String
        public var minutes: Double?
        public var epochs: Double?
        public var points: [Point]
        public var cells: [Cell]
        public var outputs: [String: String]
    }

    /// The fine-tune every cell runs (`out` is the curve's folder; fraction, seed and start are set per cell).
    public let base: FineTuneOptions
    public let fractions: [Double]
    public let seeds: [UInt64]

    public init(base: FineTuneOptions, fractions: [Double], seeds: [UInt64]) {
        self.base = base
        self.fractions = fractions
        self.seeds = seeds
    }

    /// The folder of one cell.
    public func folder(_ start: Start, fraction: Double, seed: UInt64) -> String {
        base.out + "/\(start.rawValue)-f\(fraction)-s\(seed)"
    }

    /// Runs (or reads) every cell, then writes `label_efficiency.json` and `label_efficiency.png`.
    public func run(log: @escaping @Sendable (String) -> Void = { _ in },
                    progress: @escaping @Sendable (StepProgress) -> Void = { _ in }) throws -> Report {
        guard base.task == .classify else { throw FineTuneError("the label-efficiency curve is for --task classify") }
        guard !fractions.isEmpty, fractions.allSatisfy({ $0 > 0 && $0 <= 1 }) else { throw FineTuneError("label fractions must be within (0, 1]") }
        guard !seeds.isEmpty else { throw FineTuneError("the curve needs at least one seed") }
        try FileManager.default.createDirectory(atPath: base.out, withIntermediateDirectories: true)
        var cells: [Cell] = []
        for fraction in fractions {
            for seed in seeds {
                for start in Start.allCases {
                    var o = base
                    o.out = folder(start, fraction: fraction, seed: seed)
                    o.recipe.labelFraction = fraction
                    o.recipe.seed = seed
                    o.fromScratch = start == .scratch
                    // A network from random init learns at the head's rate throughout (the finetune CLI's default).
                    // Nor does it keep features worth a head-only phase first.
                    if start == .scratch { (o.recipe.backboneLRScale, o.recipe.probeFirst) = (1, 0) }
                    let report: FineTuneReport
                    if let data = FileManager.default.contents(atPath: FineTuneRun.Folder(path: o.out).report),
                       let done = try? JSONDecoder().decode(FineTuneReport.self, from: data), Self.answers(o, done) {
                        report = done
                        log("\(start.rawValue), fraction \(fraction), seed \(seed): read \(o.out)")
                    } else {
                        log("\(start.rawValue), fraction \(fraction), seed \(seed): fine-tuning into \(o.out)")
                        report = try FineTuneRun(options: o, log: log, progress: progress).run()
                    }
                    cells.append(Cell(start: start, fraction: fraction, seed: seed, accuracy: report.test.accuracy, macroAUC: report.test.macroAUC,
                                      trainImages: report.trainImages, valImages: report.valImages, steps: report.steps, folder: o.out))
                    log(String(format: "%@, fraction %g, seed %llu: test accuracy %.4f, macro AUC %.4f", start.rawValue, fraction, seed,
                               report.test.accuracy ?? .nan, report.test.macroAUC ?? .nan))
                }
            }
        }
        let points = Self.points(cells)
        let json = base.out + "/label_efficiency.json", png = base.out + "/label_efficiency.png"
        let report = Report(checkpoint: base.checkpoint, shards: base.shards, minutes: base.minutes, epochs: base.epochs, points: points, cells: cells,
                            outputs: ["report": json, "figure": png])
        try Self.figure(points).writePNG(path: png)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
        try encoder.encode(report).write(to: URL(fileURLWithPath: json), options: .atomic)
        return report
    }

    /// Whether a fine-tune's report is the cell `o` asks for: the same fraction, seed, start, budget,
    /// selection rule and shards, and (pre-trained) the same checkpoint; a from-scratch cell only takes the checkpoint's
    /// shape, so one made beside another checkpoint of the same shape serves.
    static func answers(_ o: FineTuneOptions, _ done: FineTuneReport) -> Bool {
        done.task == .classify && done.labelFraction == o.recipe.labelFraction && done.recipe.seed == o.recipe.seed
            && done.initialization.contains("scratch") == o.fromScratch && done.minutes == o.minutes
            && (o.minutes != nil || done.recipe.epochs == (o.epochs ?? o.recipe.epochs)) && done.shards == o.shards && done.recipe.backboneLRScale == o.recipe.backboneLRScale
            && done.recipe.selection == o.recipe.selection && done.recipe.evaluations == o.recipe.evaluations
            && done.recipe.probeFirst == o.recipe.probeFirst
            && (o.fromScratch || done.checkpoint == o.checkpoint)
    }

    /// Means and ranges over seeds, per fraction and start.
    static func points(_ cells: [Cell]) -> [Point] {
        Array(Set(cells.map(\.fraction))).sorted().map { fraction in
            func scores(_ start: Start) -> Scores? {
                let c = cells.filter { $0.fraction == fraction && $0.start == start }
                let acc = c.compactMap(\.accuracy), auc = c.compactMap(\.macroAUC).filter { $0.isFinite }
                guard !acc.isEmpty, !auc.isEmpty else { return nil }
                return Scores(accuracy: acc.reduce(0, +) / Double(acc.count), accuracyRange: [acc.min()!, acc.max()!],
                              macroAUC: auc.reduce(0, +) / Double(auc.count), macroAUCRange: [auc.min()!, auc.max()!], seeds: c.count)
            }
            let (p, s) = (scores(.pretrained), scores(.scratch))
            let images = cells.first { $0.fraction == fraction }?.trainImages ?? 0
            return Point(fraction: fraction, trainImages: images, pretrained: p, scratch: s,
                         accuracyGain: p.flatMap { p in s.map { p.accuracy - $0.accuracy } },
                         macroAUCGain: p.flatMap { p in s.map { p.macroAUC - $0.macroAUC } })
        }
    }

    /// Test macro AUC and accuracy against log10 of the label fraction: the mean of each start, and its
    /// lowest and highest seed as thin companions.
    static func figure(_ points: [Point]) -> LineChart {
        func panel(_ title: String, _ value: (Scores) -> Double, _ range: (Scores) -> [Double]) -> LineChart.Panel {
            var series: [ChartSeries] = []
            for (start, name, colour) in [(Start.pretrained, "pre-trained", RGB(31, 119, 180)), (Start.scratch, "from scratch", RGB(255, 127, 14))] {
                let have = points.compactMap { p in (start == .pretrained ? p.pretrained : p.scratch).map { (log10(p.fraction), $0) } }
                guard !have.isEmpty else { continue }
                series.append(ChartSeries(label: "\(name), mean", x: have.map(\.0), y: have.map { value($0.1) }, colour: colour))
                if have.contains(where: { $0.1.seeds > 1 }) {
                    let faint = RGB(UInt8((Int(colour.r) + 255) / 2), UInt8((Int(colour.g) + 255) / 2), UInt8((Int(colour.b) + 255) / 2))
                    series.append(ChartSeries(label: "\(name), lowest seed", x: have.map(\.0), y: have.map { range($0.1)[0] }, colour: faint))
                    series.append(ChartSeries(label: "\(name), highest seed", x: have.map(\.0), y: have.map { range($0.1)[1] }, colour: faint))
                }
            }
            return LineChart.Panel(title: title, xLabel: "log10 label fraction of train", yLabel: title, series: series)
        }
        return LineChart(title: "Fine-tuning with few labels: pre-trained against from scratch (test set)",
                         panels: [panel("macro ROC AUC", \.macroAUC, \.macroAUCRange), panel("accuracy", \.accuracy, \.accuracyRange)], columns: 2)
    }
}
