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
            Streams SOURCE through read -> crop -> normalise -> encode -> compress -> write on all cores,
            in bounded memory; the shards are identical whatever the thread count. Columns: image
            (ndarray:<dtype>:C,H,W), label (int, -1 unknown), target (float64, NaN absent), id (str),
            crop (ndarray:int32:4, the box in source pixels). OUT/lenspipe.json records the settings.
            Shards are written under temporary names and renamed; index.json is written last, so a
            killed run never leaves an index that points at missing shards. A non-empty OUT is refused
            unless --overwrite: the run then writes beside it (.OUT.lenspipe-partial) and moves the
            finished data set in place, so OUT never mixes two runs.

            Examples:
              lenspipe preprocess data/model1/train out --size 64 --normalize minmax
              lenspipe preprocess data/model1 out --keep-splits --crop none --normalize none
              lenspipe preprocess data/model1/train out --split train=0.8,val=0.1,test=0.1
              lenspipe preprocess data out --worker 0/4   (then 1/4 ... 3/4, then: lenspipe merge out)

            PyTorch: streaming.StreamingDataset(local="out/train", remote=None) reads the same folder.
            """)

        @OptionGroup var sourceOptions: SourceOptions

        @Argument(help: "Output folder.")
        var out: String

        @OptionGroup var cropOptions: CropOptions
        @OptionGroup var threadOptions: ThreadOptions

        @Option(help: "Stored pixel type: float32, float16, or uint16 (integer counts in 0...65535 only).")
        var dtype: LensShardLayout.StorageType = .float32

        @Option(help: "Deterministic splits, e.g. train=0.8,val=0.1,test=0.1: stratified by label when every sample's label is known (class folders, a labels array), else by a hash of each sample id.")
        var split: String?

        @Option(help: "Seed of the --split draw (another seed, another division; 0 is the default).")
        var seed: UInt64 = 0

        @Flag(help: "Map the source's own split folders (SOURCE/train, SOURCE/test, ...) to OUT/train, OUT/test, ...")
        var keepSplits = false

        @Option(help: ArgumentHelp("Process every N-th input starting at i into part folders (several machines); join with `lenspipe merge`.",
                                   valueName: "i/N"))
        var worker: String?

        @Option(help: "On an unreadable input: stop (default), or skip it and list it in OUT/skipped.jsonl (one {\"path\", \"error\"} object per line).")
        var onError: OnError = .stop

        @Option(help: "zstd level 1...22 (0: uncompressed shards).")
        var zstdLevel: Int32 = 3

        @Option(name: .customLong("shard-mib"), help: "Shard size limit in MiB (uncompressed, MDS size_limit).")
        var shardMiB = 64

        @Option(help: "Hashes recorded in index.json, comma-separated: md5, sha1, sha256, sha384, sha512.")
        var hashes: String?

        @Flag(help: "With --dtype float16: clip pixels beyond ±65504 to it (counted in the summary) instead of refusing the image.")
        var clipFloat16 = false

        @Flag(help: "Replace a non-empty OUT (the new data set is moved in place when complete); with --worker, replace this worker's part.")
        var overwrite = false

        @Flag(help: "No progress output.")
        var quiet = false

        enum OnError: String, ExpressibleByArgument { case stop, skip }

        func validate() throws {
            if split != nil && keepSplits { throw ValidationError("use either --split or --keep-splits, not both") }
            if let split { _ = try SplitPlan.parse(split) }
            if let worker { _ = try Self.parseWorker(worker) }
            guard (0...22).contains(zstdLevel) else { throw ValidationError("--zstd-level must be 0...22") }
            guard shardMiB >= 1 && shardMiB <= MDSReader.maxShardBytes >> 20 else { throw ValidationError("--shard-mib must be 1...\(MDSReader.maxShardBytes >> 20) (readers refuse larger shards)") }
            for h in (hashes ?? "").split(separator: ",") where ShardHash(rawValue: String(h)) == nil {
                throw ValidationError("unknown hash '\(h)' (md5, sha1, sha256, sha384, sha512)")
            }
        }

        static func parseWorker(_ text: String) throws -> (index: Int, count: Int) {
            let p = text.split(separator: "/")
            guard p.count == 2, let i = Int(p[0]), let n = Int(p[1]), n >= 1, i >= 0, i < n, n <= 999 else {
                throw ValidationError("--worker expects i/N with 0 <= i < N <= 999, e.g. 0/4")
            }
            return (i, n)
        }

        func run() throws {
            let plan = keepSplits ? try ShardWriter.Preprocess.plan(splitFoldersUnder: sourceOptions.source)
                                  : ShardWriter.Preprocess.plan(source: try sourceOptions.spec.open())
            let inputs = plan.inputs
            let calibrationSource = inputs[0].source
            let crop = try cropOptions.resolve(source: calibrationSource, threads: threadOptions.threads, quiet: quiet)
            var config = ShardWriter.Preprocess.Config(crop: crop)
            config.storage = dtype
            config.zstdLevel = zstdLevel == 0 ? nil : zstdLevel
            config.hashes = (hashes ?? "").split(separator: ",").compactMap { ShardHash(rawValue: String($0)) }
            config.sizeLimit = shardMiB << 20
            config.split = keepSplits ? .keepSplits : try split.map(SplitPlan.parse) ?? .none
            config.splitSeed = seed
            config.worker = try worker.map(Self.parseWorker)
            config.skipErrors = onError == .skip
            config.overwrite = overwrite
            config.clipFloat16 = clipFloat16
            config.threads = threadOptions.threads
            let total = inputs.reduce(0) { $0 + $1.source.count }
            let meter = ProgressMeter("preprocess", total: config.worker.map { (total + $0.count - 1 - $0.index) / $0.count } ?? total, quiet: quiet)
            let pipeline = ShardWriter.Preprocess(config: config, inputs: inputs, classes: plan.classes, out: out)
            let summary = try pipeline.run(description: plan.description) { done, _ in meter.update(done) }
            meter.finish()

            for name in summary.splits.keys.sorted() {
                let c = summary.splits[name]!
                let where_ = pipeline.folder(split: name)
                print("\(where_): \(c.images) images" + (c.classes.isEmpty ? "" : " (" + c.classes.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ") + ")"))
            }
            if let method = pipeline.splitMethod, method != "folders" {
                print(method == "stratified" ? "splits: stratified by label (seed \(seed))" : "splits: by a hash of each sample id (seed \(seed); labels not known up front)")
            }
            print(String(format: "%d images %@ in %.2f s (%.0f images/s), %.0f bytes per image on disk", summary.images,
                         summary.imageShape.description, summary.seconds, Double(summary.images) / max(summary.seconds, 1e-9), summary.bytesPerImage))
            if let line = summary.changes.sentence(cropSize: config.crop.size) {
                print(line + " (per input: \(out)/\(ShardWriter.Preprocess.changedName(worker: pipeline.workerTag)))")
            }
            if !summary.skipped.isEmpty {
                print("skipped \(summary.skipped.count) unreadable inputs: \(out)/\(ShardWriter.Preprocess.skippedName(worker: pipeline.workerTag))")
            }
        }
    }
}

extension LensShardLayout.StorageType: ExpressibleByArgument {}
