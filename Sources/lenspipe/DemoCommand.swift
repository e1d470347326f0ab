import ArgumentParser
import Cropping
import PairSampler
import Foundation
import LensData
import LensSynth
import Render
import ShardWriter

extension LensPipe {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Run the pipeline on lenses lenspipe simulates itself: synthesize, inspect, crop, shard, views.",
            discussion: """
            Writes OUT/data (a DeepLense-like class-folder tree with lenses up to size/10 px off centre,
            axion files pickled as numpy does), prints the inspect report, writes OUT/sheet.png (a
            contact sheet), then crops every image around its lens with an automatic window size and
            writes OUT/crops.png (crop boxes on the originals, next to the crops), then writes
            train/val/test MDS shards to OUT/shards, verifies them, and draws SSL views of the training
            shards to OUT/views.png. Training joins this command when it lands.
            """)

        @Option(help: "Output folder.")
        var out = "lenspipe-demo"

        @Option(help: "Number of images.")
        var count = 300

        @Option(help: "Image side: 150 or 64.")
        var size = 150

        @Option(help: "Random seed.")
        var seed: UInt64 = 0

        @OptionGroup var threadOptions: ThreadOptions

        func validate() throws {
            guard size == 64 || size == 150 else { throw ValidationError("--size must be 64 or 150") }
            guard count >= 3 else { throw ValidationError("--count must be at least 3 (one per class)") }
        }

        func run() throws {
            let data = out + "/data"
            let start = Date()
            let meter = ProgressMeter("synth", total: count)
            try SynthWriter.write(config: SynthConfig(size: size, seed: seed, lensOffset: Double(size) / 10), count: count,
                                  format: .tree, to: data, threads: threadOptions.threads) { meter.update($0) }
            meter.finish()
            print(String(format: "1. synthesized %d lenses into %@ (%.1f s)", count, data, Date().timeIntervalSince(start)))
            let source = try NPYFolderSource(root: data)
            let report = SourceScan.run(source, threads: threadOptions.threads)
            print("2. inspect \(data):")
            print(InspectText.render(report).split(separator: "\n").map { "   " + $0 }.joined(separator: "\n"))
            let (sheet, rows) = ContactSheet.make(source: source, perClass: 6)
            try sheet.writePNG(path: out + "/sheet.png")
            print("3. contact sheet: \(out)/sheet.png (rows: \(rows.joined(separator: ", ")))")
            let calibration = CropCalibration.run(source: source, config: CropConfig(), threads: threadOptions.threads)
            let cropper = Cropper(config: CropConfig(policy: .fixed, size: calibration.autoSize, normalization: .asinh(softening: 1)))
            let crops = CropRun.run(source: source, cropper: cropper, threads: threadOptions.threads)
            print("4. crop (fixed, size auto = \(calibration.autoSize) px, asinh):")
            print(CropText.render(crops.summary).split(separator: "\n").map { "   " + $0 }.joined(separator: "\n"))
            let picks = stride(from: 0, to: source.count, by: max(1, source.count / 8)).prefix(8).compactMap { try? source.sample(at: $0) }
            try CropSheet.make(picks.map { s in let (c, r) = cropper.crop(s.image); return (s.image, c, r) }).writePNG(path: out + "/crops.png")
            print("   crop sheet: \(out)/crops.png")
            var config = ShardWriter.Preprocess.Config(crop: cropper.config)
            config.split = .fractions([(name: "train", fraction: 0.8), (name: "val", fraction: 0.1), (name: "test", fraction: 0.1)])
            config.threads = threadOptions.threads
            config.overwrite = true  // the demo owns OUT/shards; a rerun replaces it
            let plan = ShardWriter.Preprocess.plan(source: source)
            let pipeline = ShardWriter.Preprocess(config: config, inputs: plan.inputs, classes: plan.classes, out: out + "/shards")
            let summary = try pipeline.run(description: plan.description)
            print(String(format: "5. preprocess -> %@/shards: %d images in %.2f s, %.0f bytes per image (MDS, zstd:3)",
                         out, summary.images, summary.seconds, summary.bytesPerImage))
            let verify = ShardVerify.run(root: out + "/shards", threads: threadOptions.threads)
            for f in verify.folders { print("   \(f.folder): \(f.samples) samples in \(f.shards) shard(s)") }
            print(verify.defects.isEmpty ? "   verify: ok" : "   verify: \(verify.defects.count) defects")
            let train = try MDSSource(folder: out + "/shards/train")
            let viewPicks = Array(0..<min(8, train.count))
            let images = try viewPicks.map { try train.sample(at: $0).image }
            let sampler = PairSampler(recipe: ViewRecipe(), seed: seed)
            let batch = sampler.makeBatch(images: images, samples: viewPicks, epoch: 0, threads: threadOptions.threads, recordRejected: true)
            try ViewGrid.make(images: images, batch: batch, showRejected: true).writePNG(path: out + "/views.png")
            print(String(format: "6. views of %d training crops (2 global 64 px + 4 local 32 px): %@/views.png, acceptance %.2f, fallbacks %d",
                         images.count, out, batch.stats.acceptance, batch.stats.global.fallbacks + batch.stats.local.fallbacks))
            if !report.errors.isEmpty || !crops.failures.isEmpty || !verify.defects.isEmpty { throw ExitCode(1) }
        }
    }
}
