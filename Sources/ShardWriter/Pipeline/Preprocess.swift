import Cropping
import Foundation
import LensData
import Synchronization

/// `lenspipe preprocess`: read -> crop -> normalise -> encode -> compress -> write, streaming.
///
/// Inputs are processed in blocks: each block is cropped and encoded on all threads, and its records
/// are appended in input order, so the shards are byte-identical whatever the thread count. Memory
/// holds one block plus the open shard of each split, whatever the data set size.
public struct Preprocess: Sendable {
    public struct Config: Sendable {
        public var crop: CropConfig
        public var storage: LensShardLayout.StorageType = .float32
        public var zstdLevel: Int32? = 3
        public var hashes: [ShardHash] = []
        public var sizeLimit = 1 << 26
        public var split: SplitPlan = .none
        /// `(i, n)`: this run takes inputs i, i+n, i+2n, ... into part folder `part<i>`.
        public var worker: (index: Int, count: Int)?
        public var skipErrors = false
        /// float16 storage: clip pixels beyond ±65504 (and count them) instead of refusing the image.
        public var clipFloat16 = false
        /// Replace a non-empty output folder (a worker: its own part) instead of refusing it.
        public var overwrite = false
        public var threads = 1
        /// Seed of the `.fractions` assignment (0: the historical hash of the id).
        public var splitSeed: UInt64 = 0
        public var blockSize = 256
        /// What the crop settings were calibrated on (`calibrationSource`), for `lenspipe.json`.
        public var calibration: DatasetMetadata.Calibration?
        /// The command line, for `lenspipe.json`.
        public var command: [String] = []

        public init(crop: CropConfig) { self.crop = crop }
    }

    /// One input to process: a source, and the split it goes to (nil: decided per sample).
    public struct Input: Sendable {
        public var source: any SampleSource
        public var split: String?
        /// Where this source's class names land in the output's class list.
        public var labelMap: [Int]
    }

    /// What to process: the inputs, the output's class names, and a description for `lenspipe.json`.
    public struct Plan: Sendable {
        public var inputs: [Input]
        public var classes: [String]
        public var description: String
    }

    /// One source, all of it.
    public static func plan(source: any SampleSource) -> Plan {
        Plan(inputs: [Input(source: source, split: nil, labelMap: Array(0..<max(1, source.classes.count)))],
             classes: source.classes, description: source.summary)
    }

    /// A folder of split folders (`root/train/<class>/*.npy`, `root/test/...`): one input per split,
    /// class lists joined (sorted) so a class has the same label in every split.
    public static func plan(splitFoldersUnder root: String) throws -> Plan {
        let names = try NPYFolderSource.list(root).filter { NPYFolderSource.isDirectory(root + "/" + $0) && !$0.hasPrefix(".") }
        let sources = try names.map { try NPYFolderSource(root: root + "/" + $0) }
        guard !sources.isEmpty else { throw LensDataError(path: root, "has no split folders (expected root/train/<class>/*.npy, ...)") }
        let classes = Array(Set(sources.flatMap { $0.classes })).sorted()
        let inputs = zip(names, sources).map { name, source in
            Input(source: source, split: name, labelMap: source.classes.map { classes.firstIndex(of: $0)! })
        }
        return Plan(inputs: inputs, classes: classes, description: "\(root) (splits: \(names.joined(separator: ", ")))")
    }

    /// The `lenspipe.json` record of a finished run.
    public func metadata(_ summary: Summary, description: String) -> DatasetMetadata {
        let crop = config.crop
        return DatasetMetadata(source: description, classes: classes, imageShape: summary.imageShape, storage: config.storage.rawValue,
                               crop: .init(crop),
                               normalization: crop.normalization.name, compression: config.zstdLevel.map { "zstd:\($0)" },
                               splits: summary.splits.mapValues { .init(images: $0.images, classes: $0.classes) },
                               skipped: summary.skipped.count, changes: summary.changes, splitMethod: splitMethod,
                               splitSeed: { if case .fractions = config.split { return config.splitSeed }; return nil }(),
                               calibration: config.calibration, cropSummary: summary.crop,
                               tool: .init(command: config.command))
    }

    /// Writes `lenspipe.json` (or, for a worker, `lenspipe.worker-III-of-NNN` for `merge` to join) and,
    /// when inputs were skipped, `skipped.jsonl` (a worker: `skipped.worker-III-of-NNN.jsonl`).
    func writeReports(_ summary: Summary, description: String, root: String) throws {
        let tag = workerTag
        if !summary.skipped.isEmpty {
            try AtomicFile.write(path: root + "/" + Self.skippedName(worker: tag), parts: [JSONLines.encode(summary.skipped)])
        }
        if !summary.changed.isEmpty {
            try AtomicFile.write(path: root + "/" + Self.changedName(worker: tag), parts: [JSONLines.encode(summary.changed)])
        }
        let meta = metadata(summary, description: description)
        if let tag {
            try meta.write(to: root + "/lenspipe." + tag)
        } else {
            try meta.write(to: root + "/lenspipe.json")
        }
    }

    /// `worker-III-of-NNN` for a worker run.
    public var workerTag: String? { config.worker.map { String(format: "worker-%03d-of-%03d", $0.index, $0.count) } }

    /// With `.fractions` and a label known up front for every sample of every input: the stratified
    /// split index per (input, sample), the same for every worker. Nil otherwise (hash of the id).
    func stratifiedSplits() -> [[Int]]? { Self.stratifiedSplits(inputs: inputs, split: config.split, seed: config.splitSeed) }

    static func stratifiedSplits(inputs: [Input], split: SplitPlan, seed: UInt64) -> [[Int]]? {
        guard case .fractions(let parts) = split else { return nil }
        var ids: [String] = [], labels: [Int] = []
        for input in inputs {
            for i in 0..<input.source.count {
                guard let l = input.source.label(at: i) else { return nil }
                ids.append(input.source.id(at: i))
                labels.append(input.labelMap[l])
            }
        }
        let flat = SplitPlan.stratified(ids: ids, labels: labels, parts: parts, seed: seed)
        var out: [[Int]] = [], start = 0
        for input in inputs {
            out.append(Array(flat[start..<(start + input.source.count)]))
            start += input.source.count
        }
        return out
    }

    /// The images the crop calibration (`--size auto`, `-dataset` statistics) may look at: the
    /// training data only, so nothing of the validation or test data leaks into preprocessing.
    /// - `.keepSplits`: the split folder named `train` (an error when there is none);
    /// - `.fractions`: the samples the split assigns to `train` (or, without a split of that name, to
    ///   the first one listed), decided exactly as the run will decide them;
    /// - unsplit: the whole source (it is all training data as far as lenspipe knows).
    /// - Returns: the source and a description for messages and `lenspipe.json`.
    public static func calibrationSource(plan: Plan, split: SplitPlan, seed: UInt64) throws -> (source: any SampleSource, description: String) {
        switch split {
        case .none:
            return (plan.inputs[0].source, plan.inputs[0].source.summary)
        case .keepSplits:
            guard let train = plan.inputs.first(where: { $0.split == "train" }) else {
                let names = plan.inputs.compactMap(\.split).joined(separator: ", ")
                throw ShardPipelineError("the crop window (--size auto, the default) and -dataset normalisations calibrate on the train split, and \(plan.description) has none (splits: \(names)); preprocess the training data first and apply its settings to the rest with --like (or give --size N)")
            }
            return (train.source, "split train (\(train.source.summary))")
        case .fractions(let parts):
            let target = parts.firstIndex { $0.name == "train" } ?? 0
            let stratified = stratifiedSplits(inputs: plan.inputs, split: split, seed: seed)
            let input = plan.inputs[0].source
            let indices = (0..<input.count).filter { i in
                (stratified?[0][i] ?? SplitPlan.assign(input.id(at: i), parts, seed: seed)) == target
            }
            let name = parts[target].name
            return (SubsetSource(input, indices: indices, summary: "the \(name) part of \(input.summary)"),
                    "the \(name) part of --split (\(indices.count) of \(input.count) images)")
        }
    }

    /// `stratified`, `hash`, `folders`, or nil when unsplit.
    public var splitMethod: String? {
        switch config.split {
        case .none: return nil
        case .keepSplits: return "folders"
        case .fractions: return stratifiedSplits() != nil ? "stratified" : "hash"
        }
    }

    var splitNames: [String] {
        switch config.split {
        case .none: return [""]
        case .fractions(let parts): return parts.map(\.name)
        case .keepSplits: return inputs.compactMap(\.split)
        }
    }

    /// Runs the pipeline, writes `lenspipe.json` (`description` is its `source`) and the skipped
    /// list, and puts the output in place (see `OutputFolder`: a non-empty output is refused unless
    /// `config.overwrite`).
    /// - Parameter progress: called with (inputs done, inputs total).
    public func run(description: String, progress: (@Sendable (Int, Int) -> Void)? = nil) throws -> Summary {
        if let w = config.worker {
            try OutputFolder.prepareWorker(out, tag: workerTag!, part: Preprocess.partName(w.index), splits: splitNames, overwrite: config.overwrite)
            let summary = try write(root: out, progress: progress)
            try writeReports(summary, description: description, root: out)
            return summary
        }
        let staging = try OutputFolder.prepareWholeRun(out, overwrite: config.overwrite)
        let summary = try write(root: staging, progress: progress)
        try writeReports(summary, description: description, root: staging)
        try OutputFolder.commit(staging, to: out)
        return summary
    }

    /// `skipped.jsonl`, or a worker's `skipped.worker-III-of-NNN.jsonl`: one JSON object per line,
    /// `{"error": ..., "path": ...}`, so any byte of a file name survives.
    public static func skippedName(worker tag: String?) -> String { tag.map { "skipped.\($0).jsonl" } ?? "skipped.jsonl" }

    public struct Summary: Sendable, Codable {
        public var images: Int
        public var skipped: [ScanReport.Failure]
        /// What was changed in the images and targets that were written, in total and per input.
        public var changes: Changes
        public var changed: [ChangedInput]
        /// Split name ("" for none) -> images and per-class counts.
        public var splits: [String: SplitCount]
        public var bytesWritten: Int
        public var bytesPerImage: Double
        public var imageShape: [Int]
        public var seconds: Double
        /// Kept flux and flags over the written images.
        public var crop: CropSummary

        /// snake_case, as every JSON lenspipe writes (`preprocess --json`).
        enum CodingKeys: String, CodingKey {
            case images, skipped, changes, changed, splits, seconds, crop
            case bytesWritten = "bytes_written", bytesPerImage = "bytes_per_image", imageShape = "image_shape"
        }
    }

    /// One input written with changes (a line of `changed.jsonl`).
    public struct ChangedInput: Sendable, Codable {
        public var id: String
        public var changes: Changes
    }

    /// `changed.jsonl`, or a worker's `changed.worker-III-of-NNN.jsonl`.
    public static func changedName(worker tag: String?) -> String { tag.map { "changed.\($0).jsonl" } ?? "changed.jsonl" }

    public struct SplitCount: Sendable, Codable {
        public var images: Int
        public var classes: [String: Int]
    }

    public let config: Config
    public let inputs: [Input]
    public let classes: [String]
    public let out: String

    public init(config: Config, inputs: [Input], classes: [String], out: String) {
        self.config = config
        self.inputs = inputs
        self.classes = classes
        self.out = out
    }

    /// The folder one split's shards go to.
    public func folder(split: String) -> String { folder(split: split, root: out) }

    func folder(split: String, root: String) -> String {
        var path = split.isEmpty ? root : root + "/" + split
        if let w = config.worker { path += "/" + Preprocess.partName(w.index) }
        return path
    }

    public static func partName(_ i: Int) -> String { "part" + String(format: "%03d", i) }

    /// Writes the shards under `root`.
    private func write(root: String, progress: (@Sendable (Int, Int) -> Void)?) throws -> Summary {
        let start = Date()
        let cropper = Cropper(config: config.crop)
        var writers: [String: MDSWriter] = [:]
        var layout: LensShardLayout?
        var counts: [String: SplitCount] = [:]
        var skipped: [ScanReport.Failure] = []
        var changes = Changes()
        var changed: [ChangedInput] = []
        var records: [CropRecord] = []
        let splitNames = self.splitNames
        for name in splitNames { counts[name] = SplitCount(images: 0, classes: [:]) }

        // The inputs this worker owns, as (input, index) pairs in a fixed order: with --worker i/n,
        // every n-th input counting across all sources, starting at i.
        var work: [(Int, Int)] = []
        var position = 0
        for (k, input) in inputs.enumerated() {
            for i in 0..<input.source.count {
                defer { position += 1 }
                if let w = config.worker, position % w.count != w.index { continue }
                work.append((k, i))
            }
        }
        let total = work.count
        let stratified = stratifiedSplits()

        var done = 0
        while done < total {
            let block = Array(work[done..<min(total, done + config.blockSize)])
            typealias Item = Result<(split: String, label: Int?, record: [UInt8], image: LensImage?, id: String, changes: Changes, crop: CropRecord), LensDataError>
            let shapeKnown = layout
            let results = ParallelRunner.map(count: block.count, chunkSize: 8, threads: config.threads) { range -> [Item] in
                range.map { j -> Item in
                    let (k, i) = block[j]
                    let input = inputs[k]
                    do {
                        let s = try input.source.sample(at: i)
                        let cropped = cropper.cropWithForeground(s.image)
                        let (crop, record) = (cropped.image, cropped.record)
                        let label = s.label.map { input.labelMap[$0] }
                        let split: String
                        switch config.split {
                        case .none: split = ""
                        case .keepSplits: split = input.split ?? ""
                        case .fractions(let parts): split = parts[stratified?[k][i] ?? SplitPlan.assign(s.id, parts, seed: config.splitSeed)].name
                        }
                        let l = shapeKnown ?? LensShardLayout(channels: crop.channels, height: crop.height, width: crop.width, storage: config.storage, clipFloat16: config.clipFloat16)
                        let bytes = try l.record(id: s.id, image: crop, label: label, target: s.target, crop: record.box, foreground: cropped.foreground)
                        let changes = Changes.of(s, record: record, crop: crop, clipping: config.clipFloat16 && config.storage == .float16)
                        return .success((split, label, bytes, shapeKnown == nil ? crop : nil, s.id, changes, record))
                    } catch let e as LensDataError {
                        return .failure(e)
                    } catch {
                        return .failure(LensDataError(path: input.source.id(at: i), "\(error)"))
                    }
                }
            }.flatMap { $0 }
            for item in results {
                switch item {
                case .failure(let e):
                    guard config.skipErrors else { throw e }
                    skipped.append(ScanReport.Failure(e))
                case .success(let r):
                    if layout == nil, let image = r.image {
                        layout = LensShardLayout(channels: image.channels, height: image.height, width: image.width, storage: config.storage,
                                                 clipFloat16: config.clipFloat16)
                    }
                    let writer = try writers[r.split] ?? MDSWriter(folder: folder(split: r.split, root: root), columns: layout!.columns,
                                                                     zstdLevel: config.zstdLevel, hashes: config.hashes, sizeLimit: config.sizeLimit,
                                                                     compressionThreads: config.threads)
                    writers[r.split] = writer
                    try writer.append(record: r.record)
                    records.append(r.crop)
                    counts[r.split, default: SplitCount(images: 0, classes: [:])].images += 1
                    let cls = r.label.map { $0 < classes.count ? classes[$0] : String($0) } ?? "(unlabelled)"
                    counts[r.split]!.classes[cls, default: 0] += 1
                    if !r.changes.isEmpty {
                        changes += r.changes
                        changed.append(.init(id: r.id, changes: r.changes))
                    }
                }
            }
            done += block.count
            progress?(done, total)
        }
        // Splits that received nothing still get an empty, valid data set.
        for name in splitNames where writers[name] == nil {
            let l = layout ?? LensShardLayout(channels: 1, height: config.crop.size, width: config.crop.size, storage: config.storage)
            writers[name] = try MDSWriter(folder: folder(split: name, root: root), columns: l.columns, zstdLevel: config.zstdLevel,
                                          hashes: config.hashes, sizeLimit: config.sizeLimit)
        }
        var bytes = 0
        for name in writers.keys.sorted() {
            try writers[name]!.finish()
            bytes += writers[name]!.writtenBytes
        }
        let images = counts.values.reduce(0) { $0 + $1.images }
        return Summary(images: images, skipped: skipped, changes: changes, changed: changed, splits: counts, bytesWritten: bytes,
                       bytesPerImage: images > 0 ? Double(bytes) / Double(images) : 0,
                       imageShape: layout.map { [$0.channels, $0.height, $0.width] } ?? [], seconds: Date().timeIntervalSince(start),
                       crop: CropSummary(records: records, config: config.crop))
    }
}
