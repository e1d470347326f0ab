import ArgumentParser
import Cropping
import Foundation
import LensData
import LensSynth
import PairSampler
import ShardWriter

extension LensPipe {
    struct Bench: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Measure lenspipe's throughput (JSON output, to compare against a baseline in the same run).",
            subcommands: [Read.self, CropBench.self, Augment.self, Train.self])
    }
}

extension LensPipe.Bench {
    struct Read: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Read every sample of a source to Float32 and report files/s and MB/s.",
            discussion: """
            MB/s counts the bytes read: the files of a folder source, the image data of a stack or an HDF5 dataset (as stored, before decompression). Each pass opens every file once. Compare with scripts/bench_read.py, a numpy np.load loop over the same files (scripts/bench-read.sh runs both).
            """)

        @OptionGroup var sourceOptions: SourceOptions
        @OptionGroup var threadOptions: ThreadOptions
        @OptionGroup var jsonOptions: BenchJSONOptions

        @Option(help: "Passes over the data; the best is reported (the first warms the page cache).")
        var repeats = 3

        func run() throws {
            let spec = sourceOptions.spec
            // Opened once to check it (an HDF5 file is probed in a child process here, untimed); then
            // every pass opens a stack or HDF5 file once, as np.load opens each file. A folder
            // source's listing is reused: its reads open each file.
            let checked = try spec.open()
            let bytes = checked.storedBytes ?? 0
            let reopen = !(checked is NPYFolderSource)
            if reopen { HDF5CrashGuard.install(nil) }
            var best = Double.infinity
            var failures = 0
            for _ in 0..<max(1, repeats) {
                let t0 = Date()
                let source = reopen ? try spec.open() : checked
                let counts = ParallelRunner.map(count: source.count, chunkSize: 64, threads: threadOptions.threads) { range -> Int in
                    var bad = 0
                    for i in range { if (try? source.sample(at: i)) == nil { bad += 1 } }
                    return bad
                }
                best = min(best, Date().timeIntervalSince(t0))
                failures = counts.reduce(0, +)
            }
            let result: [String: Any] = [
                "files": checked.count, "failed": failures, "threads": threadOptions.threads, "seconds": best, "bytes": bytes,
                "files_per_s": Double(checked.count) / best, "mb_per_s": Double(bytes) / 1e6 / best,
            ]
            try JSONOutput.print(object: result)
        }
    }
}

extension LensPipe.Bench {
    struct CropBench: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "crop",
            abstract: "Crops per second: foreground detection, fixed window, normalisation (JSON).",
            discussion: """
            Images are loaded into memory first; only cropping is timed. Without a source, 150x150 Model I-like images are simulated. Compare with scripts/bench_crop.py (numpy: median/MAD, threshold, centroid, crop, normalise) on the same stack: scripts/bench-crop.sh runs both.
            """)

        @Argument(help: "A source (default: simulated 150x150 images).")
        var source: String?

        @Option(help: "Images to simulate when no source is given.")
        var count = 2000

        @Option(help: "Window side.")
        var size = 64

        @Option(help: "Normalisation: \(Normalization.names.joined(separator: ", ")) (the -dataset ones after an untimed calibration pass).")
        var normalize = NormalizationName(argument: "asinh")!

        @Option(help: "Passes; the best is reported.")
        var repeats = 3

        @OptionGroup var threadOptions: ThreadOptions
        @OptionGroup var jsonOptions: BenchJSONOptions

        func validate() throws {
            guard (1...1_000_000).contains(count) else { throw ValidationError("--count must be 1...1000000") }
            guard (1...100).contains(repeats) else { throw ValidationError("--repeats must be 1...100") }
            do { try CropConfig(policy: .fixed, size: size).validate() } catch { throw ValidationError("--size: \(error)") }
        }

        func run() throws {
            let images: [LensImage]
            if let source {
                let s = try SourceSpec(source).open()
                images = try (0..<s.count).map { try s.sample(at: $0).image }
            } else {
                let sim = LensSimulator(config: SynthConfig(size: 150, seed: 1))
                images = ParallelRunner.map(count: count, chunkSize: 64, threads: threadOptions.threads) { r in
                    r.map { i in LensImage(channels: 1, height: 150, width: 150, pixels: sim.render(index: i).pixels.map(Float.init)) }
                }.flatMap { $0 }
            }
            var config = CropConfig(policy: .fixed, size: size)
            config.normalization = CropCalibration.normalization(named: normalize.name, images: images, config: config, threads: threadOptions.threads)!
            let cropper = Cropper(config: config)
            var best = Double.infinity
            var empty = 0
            for _ in 0..<max(1, repeats) {
                let t0 = Date()
                let flags = ParallelRunner.map(count: images.count, chunkSize: 32, threads: threadOptions.threads) { r -> Int in
                    r.reduce(0) { $0 + (cropper.crop(images[$1]).1.flags.contains(.emptyForeground) ? 1 : 0) }
                }
                best = min(best, Date().timeIntervalSince(t0))
                empty = flags.reduce(0, +)
            }
            let result: [String: Any] = [
                "images": images.count, "threads": threadOptions.threads, "seconds": best, "size": size, "normalize": normalize.name,
                "crops_per_s": Double(images.count) / best, "crops_per_s_per_core": Double(images.count) / best / Double(threadOptions.threads),
                "empty_foreground": empty,
            ]
            try JSONOutput.print(object: result)
        }
    }
}

extension LensPipe.Bench {
    struct Augment: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Images/s and views/s for the full view recipe, rejection sampling included (JSON).",
            discussion: """
            Images are loaded and their foreground maps computed first (once per image, as a trainer does); the timed part makes every view. Without a source, 64x64 Model II-like lenses with lenses up to 8 px off centre are simulated. scripts/bench-augment.sh runs it beside an albumentations chain with the same crop sizes, D4, blur and noise. would_reject counts the views whose crop fails the rejection test (too little lens flux or foreground, as sky-only views do): with --no-rejection, the views rejection would have redrawn; with it, only fallbacks can. would_reject_share is over the views of images with a foreground.
            """)

        @Argument(help: "A source (default: simulated 64x64 images).")
        var source: String?

        @Option(help: "Images to simulate when no source is given.")
        var count = 2000

        @Option(help: "Passes; the best is reported.")
        var repeats = 3

        @OptionGroup var viewOptions: ViewOptions
        @OptionGroup var threadOptions: ThreadOptions
        @OptionGroup var jsonOptions: BenchJSONOptions

        func run() throws {
            let recipe = try viewOptions.resolve()
            let images: [LensImage]
            var masks: [[Bool]?] = []
            var stretch = Normalization.none
            if let source {
                let s = try MDSSource.open(SourceSpec(source))
                let samples = try (0..<s.count).map { try s.sample(at: $0) }
                images = samples.map(\.image)
                masks = samples.map(\.foreground)
                stretch = (s as? MDSSource)?.normalization ?? .none
            } else {
                let sim = LensSimulator(config: SynthConfig(size: 64, seed: 3, lensOffset: 8))
                images = (0..<count).map { LensImage(channels: 1, height: 64, width: 64, pixels: sim.render(index: $0).pixels.map(Float.init)) }
            }
            let sampler = PairSampler(recipe: recipe, seed: 1, stretch: stretch)
            let stored = masks
            let maps = ParallelRunner.map(count: images.count, chunkSize: 32, threads: threadOptions.threads) { r in
                r.map { sampler.foregroundMap(images[$0], mask: stored.isEmpty ? nil : stored[$0]) }
            }.flatMap { $0 }
            var best = Double.infinity
            var stats: ViewStats?
            for epoch in 0..<max(1, repeats) {
                let t0 = Date()
                let batch = sampler.makeBatch(images: images, samples: Array(images.indices), epoch: epoch,
                                              threads: threadOptions.threads, maps: maps)
                best = min(best, Date().timeIntervalSince(t0))
                stats = batch.stats
            }
            let n = Double(images.count)
            let result: [String: Any] = [
                "images": images.count, "threads": threadOptions.threads, "seconds": best,
                "images_per_s": n / best, "views_per_s": n * Double(recipe.viewCount) / best,
                "images_per_s_per_core": n / best / Double(threadOptions.threads),
                "acceptance": stats?.acceptance ?? 1, "rejection": recipe.rejection,
                "would_reject": stats?.wouldReject ?? 0, "would_reject_share": stats?.wouldRejectShare ?? 0,
                "views": try JSONSerialization.jsonObject(with: JSONEncoder().encode(stats ?? ViewStats(records: []))),
                "stored_masks": masks.compactMap { $0 }.count,
            ]
            try JSONOutput.print(object: result)
        }
    }
}
