import FeatureMetrics
import Foundation
import LensData
import MiniTrain
import Render
import ShardWriter
import Training

/// `lenspipe eval`: k-NN and a linear probe on frozen features, for the checkpoint and, measured the
/// same way on the same images, a randomly initialised network of the same shape and the raw pixels,
/// so a reader sees what pre-training added.
///
/// - k-NN: cosine on L2-normalised features, `k` neighbours, `exp(sim / T)` weighted vote (DINO's
///   `eval_knn.py`); its class scores give a ROC AUC too. Each row also reports the same k-NN on
///   features centred by the train features' mean first (CL2N, `KNNClassifier(centred:)`), which is
///   what separates the classes when every feature shares a large common part.
/// - Probe: multinomial logistic regression on standardised features, `C` chosen on a stratified 20%
///   of train (never on test), refitted on all of train (`FeatureMetrics.LinearProbe`). Its features
///   are EsViT's (`eval_linear.py --n_last_blocks 4`): the pooled outputs of the last `probeBlocks`
///   blocks side by side; the k-NN reads the final pooled feature alone, as DINO's and EsViT's
///   `eval_knn.py` do.
public struct FrozenEvaluation {
    public struct Options: Sendable {
        public var checkpoint: String
        public var train: String
        public var test: String
        /// `teacher` (DINO's choice) or `student`.
        public var network = NetworkChoice.teacher
        public var k = 20
        public var temperature = 0.07
        /// Also evaluate a random-init network and the raw pixels.
        public var baselines = true
        /// Where `roc.png` and `confusion.png` go (nil: none).
        public var figures: String?
        public var seed: UInt64 = 0
        /// Pools the tokens this way instead of the checkpoint's `config.pooling` (nil: the checkpoint's);
        /// the random-init row pools the same way.
        public var pooling: TokenPooling?
        /// The probe reads the pooled outputs of this many last blocks (EsViT's `--n_last_blocks`; 1: the
        /// final pooled feature, the k-NN's); at most the backbone's blocks. Nil: `defaultProbeBlocks`, or
        /// every block of a smaller backbone.
        public var probeBlocks: Int?
        /// EsViT's README command's `--n_last_blocks 4`.
        public static let defaultProbeBlocks = 4

        public init(checkpoint: String, train: String, test: String) {
            self.checkpoint = checkpoint
            self.train = train
            self.test = test
        }
    }

    /// One row of the report: one kind of features, both protocols.
    public struct Row: Sendable, Codable {
        public var features: String
        /// The k-NN's feature width.
        public var dimension: Int
        /// The probe's feature width (the last blocks' pooled outputs; raw pixels: `dimension`).
        public var probeDimension: Int
        public var knnAccuracy: Double
        public var knnMacroAUC: Double
        /// The k-NN on features centred by the train features' mean (CL2N).
        public var knnCentredAccuracy: Double
        public var knnCentredMacroAUC: Double
        public var probeAccuracy: Double
        public var probeMacroAUC: Double
        public var probePerClassAUC: [Double]
        public var probeC: Double
        /// `[K, K]`, rows true, columns predicted (the probe).
        public var probeConfusion: [Int]
        public var seconds: Double

        enum CodingKeys: String, CodingKey {
            case features, dimension, seconds
            case probeDimension = "probe_dimension"
            case knnAccuracy = "knn_accuracy", knnMacroAUC = "knn_macro_auc"
            case knnCentredAccuracy = "knn_centred_accuracy", knnCentredMacroAUC = "knn_centred_macro_auc", probeAccuracy = "probe_accuracy", probeMacroAUC = "probe_macro_auc"
            case probePerClassAUC = "probe_auc_per_class", probeC = "probe_c", probeConfusion = "probe_confusion"
        }
    }

    public struct Report: Sendable, Codable {
        /// The report as pretty, sorted JSON (what `report.json` holds).
        public func json() throws -> Data {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
            return try encoder.encode(self)
        }

        /// Writes `folder/report.json` (atomically), the one place eval's report is written.
        public func write(toFolder folder: String) throws {
            try json().write(to: URL(fileURLWithPath: folder + "/report.json"), options: .atomic)
        }

        public var checkpoint: String
        public var train: String
        public var test: String
        public var trainImages: Int
        public var testImages: Int
        public var classes: [String]
        public var k: Int
        public var temperature: Double
        /// How many last blocks' pooled outputs the probe read (EsViT's n_last_blocks).
        public var probeBlocks: Int
        public var rows: [Row]

        enum CodingKeys: String, CodingKey {
            case checkpoint, train, test, classes, k, temperature, rows
            case probeBlocks = "probe_blocks"
            case trainImages = "train_images", testImages = "test_images"
        }
    }

    public let options: Options
    let log: @Sendable (String) -> Void

    public init(options: Options, log: @escaping @Sendable (String) -> Void = { _ in }) {
        self.options = options
        self.log = log
    }

    public func run() throws -> Report {
        log("reading \(options.train) and \(options.test)")
        let train = try LabelledSplit(folder: options.train), test = try LabelledSplit(folder: options.test)
        guard train.channels == test.channels else {
            throw EvaluationError("\(options.train) holds \(train.channels)-channel images, \(options.test) \(test.channels)-channel ones")
        }
        let (trained, size) = try Self.open(checkpoint: options.checkpoint, shards: options.train, channels: train.channels)
        try DataNormalization.check(metadata: try Checkpoint.metadata(at: options.checkpoint), checkpoint: options.checkpoint, shards: options.test)
        let trainLabels = try Self.labels(train, options.train), testLabels = try Self.labels(test, options.test)
        let classes = (try? MDSSource(folder: options.train).classes) ?? []
        let K = max(classes.count, (trainLabels + testLabels).max()! + 1)
        let names = (0..<K).map { $0 < classes.count ? classes[$0] : "class \($0)" }

        var config = trained.config
        if let pooling = options.pooling { config.pooling = pooling }
        let blocks = options.probeBlocks ?? min(Options.defaultProbeBlocks, config.blockCount)
        guard (1...config.blockCount).contains(blocks) else {
            throw EvaluationError("the probe reads the last \(blocks) blocks; \(options.checkpoint)'s backbone has \(config.blockCount) (1...\(config.blockCount))")
        }
        var rows: [Row] = []
        func evaluate(_ name: String, isNetwork: Bool = true, _ make: () -> (EmbeddedSplit, EmbeddedSplit)) throws -> (Row, LinearProbe.Result) {
            let t0 = Date()
            let (p, q) = make()
            try p.requireFinite("\(name) features of \(options.train)")
            try q.requireFinite("\(name) features of \(options.test)")
            // The k-NN's part: the final pooled feature, the last columns of the network's features.
            let knnWidth = isNetwork ? config.finalDim : p.dimension
            let (a, b) = (p.lastColumns(knnWidth), q.lastColumns(knnWidth))
            let s = FrozenScores(train: a.features, trainLabels: trainLabels, test: b.features, testLabels: testLabels, dimension: a.dimension,
                                 classCount: K, k: options.k, temperature: options.temperature, probeSeed: options.seed,
                                 probeFeatures: (p.features, q.features, p.dimension))
            let (knnReport, knnCentred, probe) = (s.knn, s.knnCentred, s.probe!)
            let row = Row(features: name, dimension: a.dimension, probeDimension: p.dimension, knnAccuracy: knnReport.accuracy, knnMacroAUC: knnReport.macroAUC,
                          knnCentredAccuracy: knnCentred.accuracy, knnCentredMacroAUC: knnCentred.macroAUC,
                          probeAccuracy: probe.report.accuracy, probeMacroAUC: probe.report.macroAUC, probePerClassAUC: probe.report.auc,
                          probeC: probe.chosenC, probeConfusion: probe.report.confusion, seconds: Date().timeIntervalSince(t0))
            log(String(format: "%@: k-NN %.4f (AUC %.4f), centred k-NN %.4f, probe %.4f (AUC %.4f, C %g) in %.0f s", name, row.knnAccuracy,
                       row.knnMacroAUC, row.knnCentredAccuracy, row.probeAccuracy, row.probeMacroAUC, row.probeC, row.seconds))
            return (row, probe)
        }
        let arena = options.network.arena(of: trained)
        let network = EsViTNetwork(config: config)
        let (row, probe) = try evaluate("trained (\(options.network))") {
            (EmbeddedSplit(train, network: network, arena: arena, size: size, lastBlocks: blocks),
             EmbeddedSplit(test, network: network, arena: arena, size: size, lastBlocks: blocks))
        }
        rows.append(row)
        if options.baselines {
            let random = EsViTTrainer(config: config)
            random.initialize(seed: options.seed)
            rows.append(try evaluate("random init") {
                (EmbeddedSplit(train, network: random.network, arena: random.teacher, size: size, lastBlocks: blocks),
                 EmbeddedSplit(test, network: random.network, arena: random.teacher, size: size, lastBlocks: blocks))
            }.0)
            rows.append(try evaluate("raw pixels", isNetwork: false) { (EmbeddedSplit(rawPixels: train, size: size), EmbeddedSplit(rawPixels: test, size: size)) }.0)
        }
        if let dir = options.figures {
            try ClassificationFigures.write(probe.report, classNames: names, subject: "Linear probe, test set", to: dir)
        }
        return Report(checkpoint: options.checkpoint, train: options.train, test: options.test, trainImages: train.ids.count,
                      testImages: test.ids.count, classes: names, k: options.k, temperature: options.temperature, probeBlocks: blocks, rows: rows)
    }

    static func labels(_ split: LabelledSplit, _ folder: String) throws -> [Int] {
        guard !split.labels.isEmpty else { throw EvaluationError("\(folder): no samples") }
        guard let i = split.labels.firstIndex(where: { $0 == nil }) else { return split.labels.map { $0! } }
        throw EvaluationError("\(folder): sample \(i) (\(split.ids[i])) has no label; eval needs a labelled split")
    }

    /// The image size the checkpoint was trained on: `input_size` in its metadata (a fine-tuned
    /// checkpoint), else the global view size of its recipe, 64 when it has neither.
    public static func globalSize(checkpoint: String) throws -> Int {
        let meta = try Checkpoint.metadata(at: checkpoint)
        if let text = meta["input_size"] {
            guard let size = Int(text), size > 0 else { throw LensDataError(path: checkpoint, "input_size '\(text)' in the metadata is not a positive integer") }
            return size
        }
        guard let text = meta["recipe"] else { return 64 }
        do {
            return try TrainRecipe.decode(Data(text.utf8)).views.global[0].size
        } catch {
            throw LensDataError(path: checkpoint, "the recipe in the metadata: \(error)")
        }
    }

    /// A checkpoint to run on the images of `shards` (`channels` channels; nil: not known yet, the
    /// caller checks them with `Checkpoint.checkFits` once read): loaded and checked (`Checkpoint.load`,
    /// then `Checkpoint.checkFits` at the size its network reads), with that size.
    public static func open(checkpoint: String, shards: String, channels: Int?) throws -> (trainer: EsViTTrainer, size: Int) {
        let trainer = try Checkpoint.load(from: checkpoint)
        let size = try globalSize(checkpoint: checkpoint)
        try Checkpoint.checkFits(trainer.config, checkpoint: checkpoint, shards: shards, channels: channels ?? trainer.config.inChannels, size: size)
        try DataNormalization.check(metadata: try Checkpoint.metadata(at: checkpoint), checkpoint: checkpoint, shards: shards)
        return (trainer, size)
    }
}

public struct EvaluationError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
