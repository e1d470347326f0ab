import ArgumentParser
import Benchmarks
import Cropping
import Foundation
import LensData

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
            try JSONOutput.printLine(ReadBenchmark.run(sourceOptions.spec, threads: threadOptions.threads, repeats: repeats))
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
            let threads = threadOptions.threads
            let images = try CropBenchmark.images(source: source, count: count, threads: threads)
            try JSONOutput.printLine(CropBenchmark.run(images: images, size: size, normalize: normalize.name, threads: threads, repeats: repeats))
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
            let (images, masks, stretch) = try AugmentBenchmark.images(source: source, count: count)
            try JSONOutput.printLine(AugmentBenchmark.run(images: images, masks: masks, stretch: stretch, recipe: recipe,
                                                          threads: threadOptions.threads, repeats: repeats))
        }
    }
}
