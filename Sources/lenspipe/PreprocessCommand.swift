import ArgumentParser
import Cropping
import Foundation
import LensData
import ShardWriter

extension LensPipe {
    struct Preprocess: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Crop, normalise and write a data set as zstd-compressed MDS shards (MosaicML Streaming format).",
            discussion: """
            Streams SOURCE through read -> crop -> normalise -> encode -> compress -> write on all cores, in bounded memory; the shards are identical whatever the thread count. Columns: image (ndarray:<dtype>:C,H,W), label (int, -1 unknown), target (float64, NaN absent), id (str), crop (ndarray:int32:4, the box in source pixels). OUT/lenspipe.json records the settings. Shards are written under temporary names and renamed; index.json is written last, so a killed run never leaves an index that points at missing shards. A non-empty OUT is refused unless --overwrite: the run then writes beside it (.OUT.lenspipe-partial) and moves the finished data set in place, so OUT never mixes two runs.

            Examples:
              lenspipe preprocess data/model1/train -o out --size 64 --normalize minmax
              lenspipe preprocess data/model1 -o out --keep-splits --crop none \\
                --normalize none
              lenspipe preprocess data/model1/train -o out \\
                --split train=0.8,val=0.1,test=0.1
              lenspipe preprocess data -o out --worker 0/4
                (then 1/4 ... 3/4, then: lenspipe merge out)

            Folders: with --split or --keep-splits each split is its own MDS folder, OUT/train, OUT/val, ...; without, OUT itself is the one MDS folder. Pass that folder to PyTorch:
            streaming.StreamingDataset(local="OUT/train", remote=None) (or local="OUT" when unsplit); preprocess prints the exact folders when it finishes.

            Calibration: the crop window (--size auto, and the default: auto but at least 64 px), the default normalisation (auto: lens when the images' sky level and lens brightness rise together, as with counts whose exposure varies per image, else lens-dataset) and the -dataset normalisations measure the training images only (the train split folder, or the train part of --split), never val or test. OUT/lenspipe.json records every crop and normalisation setting (with the statistics), what they were measured on, the crop summary, the tool version and the command line; --like OUT re-applies them to new data without measuring anything:
              lenspipe preprocess data/model2/train -o out --split train=0.85,val=0.15 \\
                --size auto --normalize zscore-dataset
              lenspipe preprocess data/model2/test -o out-test --like out
            """)

        @OptionGroup var sourceOptions: SourceOptions

        @OptionGroup var outputOptions: OutputFolderOptions
        var out: String { outputOptions.folder }

        @OptionGroup var cropOptions: CropOptions
        @OptionGroup var threadOptions: ThreadOptions

        @Option(help: "Stored pixel type: float32 (default), float16, or uint16 (integer counts in 0...65535 only).")
        var dtype: LensShardLayout.StorageType?

        @Option(help: ArgumentHelp("Crop, normalise and store exactly as the data set in OUT was (its lenspipe.json: window, policy, detection, normalisation statistics, dtype) instead of measuring anything on this data: a new test set, real observations.",
                                   valueName: "OUT"))
        var like: String?

        @Option(help: "Deterministic splits, e.g. train=0.8,val=0.1,test=0.1: stratified by label when every sample's label is known (class folders, a labels array), else by a hash of each sample id.")
        var split: SplitOption?

        @Option(help: "Seed of the --split draw (another seed, another division, and so other training images to calibrate on; 0 is the default).")
        var seed: UInt64 = 0

        @Option(name: .customLong("split-seed"), help: .hidden)
        var legacySplitSeed: UInt64?

        @Flag(help: "Map the source's own split folders (SOURCE/train, SOURCE/test, ...) to OUT/train, OUT/test, ...")
        var keepSplits = false

        @Option(help: ArgumentHelp("Process every N-th input starting at i into part folders (several machines); join with `lenspipe merge`.",
                                   valueName: "i/N"))
        var worker: WorkerSlice?

        @Option(help: "On an unreadable input: stop (default), or skip it and list it in OUT/skipped.jsonl (one {\"path\", \"error\"} object per line).")
        var onError: OnError = .stop

        @Option(help: "zstd level 1...22 (0: uncompressed shards).")
        var zstdLevel: Int32 = 3

        @Option(name: .customLong("shard-mib"), help: "Shard size limit in MiB (uncompressed, MDS size_limit).")
        var shardMiB = 64

        @Option(help: "Hashes recorded in index.json, comma-separated: md5, sha1, sha256, sha384, sha512.")
        var hashes: HashList?

        @Flag(help: "With --dtype float16: clip pixels beyond ±65504 to it (counted in the summary) instead of refusing the image.")
        var clipFloat16 = false

        @Flag(help: "Replace a non-empty OUT (the new data set is moved in place when complete); with --worker, replace this worker's part.")
        var overwrite = false

        @Flag(help: "No progress line.")
        var quiet = false

        @Flag(help: "Print the summary as JSON (folders, images per split and class, crop summary, changes, skipped inputs).")
        var json = false

        enum OnError: String, ExpressibleByArgument { case stop, skip }

        func validate() throws {
            if split != nil && keepSplits { throw ValidationError("use either --split or --keep-splits, not both") }
            if like != nil, !cropOptions.given.isEmpty {
                throw ValidationError("--like takes the crop settings from the reference data set; drop \(cropOptions.given.joined(separator: ", "))")
            }
            guard (0...22).contains(zstdLevel) else { throw ValidationError("--zstd-level must be 0...22") }
            guard shardMiB >= 1 && shardMiB <= MDSReader.maxShardBytes >> 20 else { throw ValidationError("--shard-mib must be 1...\(MDSReader.maxShardBytes >> 20) (readers refuse larger shards)") }
        }

        func run() throws {
            let plan = keepSplits ? try ShardWriter.Preprocess.plan(splitFoldersUnder: sourceOptions.source)
                                  : ShardWriter.Preprocess.plan(source: try sourceOptions.spec.open())
            let inputs = plan.inputs
            let splitPlan: SplitPlan = keepSplits ? .keepSplits : split?.plan ?? .none
            let seed = legacySplitSeed ?? self.seed
            let quiet = self.quiet || json
            var config: ShardWriter.Preprocess.Config
            if let like {
                let path = like.hasSuffix(".json") ? like : like + "/lenspipe.json"
                let reference = try DatasetMetadata.read(from: path)
                config = .init(crop: try reference.cropConfig(path: path))
                guard let storage = LensShardLayout.StorageType(rawValue: reference.storage) else {
                    throw LensDataError(path: path, "unknown storage '\(reference.storage)'")
                }
                config.storage = dtype ?? storage
                config.calibration = .init(on: "nothing: the settings of \(path)", sampled: 0, like: path)
                if !quiet { print("settings of \(path): \(config.crop.policy) \(config.crop.size) px, normalisation \(config.crop.normalization.name), \(config.storage.rawValue)") }
            } else if cropOptions.needsCalibration {
                let (source, description) = try ShardWriter.Preprocess.calibrationSource(plan: plan, split: splitPlan, seed: seed)
                let (crop, calibration) = cropOptions.resolve(source: source, threads: threadOptions.threads)
                config = .init(crop: crop)
                if let c = calibration {
                    let auto = cropOptions.size.map { $0 == .auto } ?? true
                    config.calibration = .init(on: description, sampled: c.sampled, autoSize: auto ? c.autoSize : nil)
                    if !quiet { print(CropText.calibration(c, config: crop, auto: auto, on: description)) }
                }
            } else {
                config = .init(crop: cropOptions.resolve(source: inputs[0].source, threads: threadOptions.threads).config)
            }
            config.command = CommandLine.arguments
            config.storage = dtype ?? config.storage
            config.zstdLevel = zstdLevel == 0 ? nil : zstdLevel
            config.hashes = hashes?.hashes ?? []
            config.sizeLimit = shardMiB << 20
            config.split = splitPlan
            config.splitSeed = seed
            config.worker = worker.map { (index: $0.index, count: $0.count) }
            config.skipErrors = onError == .skip
            config.overwrite = overwrite
            config.clipFloat16 = clipFloat16
            config.threads = threadOptions.threads
            let total = inputs.reduce(0) { $0 + $1.source.count }
            let meter = ProgressMeter("preprocess", total: config.worker.map { (total + $0.count - 1 - $0.index) / $0.count } ?? total, quiet: quiet)
            let pipeline = ShardWriter.Preprocess(config: config, inputs: inputs, classes: plan.classes, out: out)
            let summary = try pipeline.run(description: plan.description) { done, _ in meter.update(done) }
            meter.finish()

            if json {
                try JSONOutput.print(PreprocessReport(summary: summary, folders: Dictionary(uniqueKeysWithValues:
                    summary.splits.keys.map { ($0, pipeline.folder(split: $0)) }), splitMethod: pipeline.splitMethod, seed: seed))
                if let warning = CropText.cutWarning(summary.crop) { FileHandle.standardError.write(Data((warning + "\n").utf8)) }
                return
            }
            for name in summary.splits.keys.sorted() {
                let c = summary.splits[name]!
                let where_ = pipeline.folder(split: name)
                print("\(where_)/: \(c.images) images" + (c.classes.isEmpty ? "" : " (" + c.classes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"))
            }
            if let method = pipeline.splitMethod, method != "folders" {
                print(method == "stratified" ? "splits: stratified by label (seed \(seed))" : "splits: by a hash of each sample id (seed \(seed); labels not known up front)")
            }
            print(String(format: "%d images %@ in %.2f s (%.0f images/s), %.0f bytes per image on disk", summary.images,
                         summary.imageShape.description, summary.seconds, Double(summary.images) / max(summary.seconds, 1e-9), summary.bytesPerImage))
            print(CropText.render(summary.crop))
            if let warning = CropText.cutWarning(summary.crop) { print(warning) }
            if let line = summary.changes.sentence(cropSize: config.crop.size) {
                print(line + " (per input: \(out)/\(ShardWriter.Preprocess.changedName(worker: pipeline.workerTag)))")
            }
            if !summary.skipped.isEmpty {
                print("skipped \(summary.skipped.count) unreadable inputs: \(out)/\(ShardWriter.Preprocess.skippedName(worker: pipeline.workerTag))")
            }
        }
    }
}

/// What `preprocess --json` prints: the run's summary, and the MDS folder of each split (the one
/// to pass to `StreamingDataset(local=...)`).
struct PreprocessReport: Encodable {
    let summary: ShardWriter.Preprocess.Summary
    let folders: [String: String]
    let splitMethod: String?
    let seed: UInt64

    enum CodingKeys: String, CodingKey { case summary, folders, splitMethod = "split_method", seed }
}

extension LensShardLayout.StorageType: ExpressibleByArgument {}
