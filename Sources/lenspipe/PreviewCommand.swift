import ArgumentParser
import Foundation
import LensData
import Cropping
import PairSampler
import Render
import ShardWriter

extension LensPipe {
    struct Preview: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Draw SSL view pairs as a PNG grid: each image with its crop boxes, then its views.",
            discussion: """
            One row per image: the image (asinh stretch) with the crops of its views drawn on it (global cyan, local yellow, constructive fallbacks magenta; with --show-rejected, the rejected candidates in red), then the global and local views. SOURCE may be any data set or a preprocessed MDS folder (one with index.json).

            --save-views DIR writes DIR/global.npy [N, 2, C, S, S], DIR/local.npy [N, L, C, s, s] and DIR/boxes.json (per view: crop centre, size, angle, corners in source pixels, symmetry, retries).

            Examples:
              lenspipe preview data/model1/train -o views.png --pairs 8 --show-rejected
              lenspipe preview out/train -o views.png --recipe recipe.json \\
                --save-views views/
            """)

        @OptionGroup var sourceOptions: SourceOptions

        @Option(name: [.customShort("o"), .customLong("output")], help: "The PNG to write.")
        var output: String

        @Option(help: "Images (rows) to show.")
        var pairs = 16

        @Option(help: "Random seed.")
        var seed: UInt64 = 0

        @Option(help: "Epoch (views change with it).")
        var epoch = 0

        @Flag(help: "Also draw the rejected candidate crops (red).")
        var showRejected = false

        @Option(help: ArgumentHelp("Also write the views and boxes as .npy/.json to this folder.", valueName: "DIR"))
        var saveViews: String?

        @Flag(help: "Print what was written and the view statistics as JSON.")
        var json = false

        @Flag(help: "Print nothing on success.")
        var quiet = false

        @OptionGroup var viewOptions: ViewOptions
        @OptionGroup var threadOptions: ThreadOptions

        /// The most pixels the figure may hold (a PNG a browser opens; 64 M is 192 MB of RGB in memory).
        static let maxFigurePixels = 64 << 20

        func validate() throws {
            guard (1...256).contains(pairs) else { throw ValidationError("--pairs must be 1...256") }
            let recipe = try viewOptions.resolve()
            let views = recipe.global.count + recipe.local.count
            let side = max(recipe.global.map(\.size).max() ?? 0, recipe.local.size)
            let pixels = pairs * (views + 1) * side * side
            guard pixels <= Self.maxFigurePixels else {
                throw ValidationError("the figure would hold \(pixels >> 20) M pixels (\(pairs) rows of \(views + 1) tiles of up to \(side) px), more than \(Self.maxFigurePixels >> 20) M: lower --pairs or the view sizes")
            }
        }

        func run() throws {
            let source = try MDSSource.open(sourceOptions.spec)
            let recipe = try viewOptions.resolve()
            let step = max(1, source.count / max(1, pairs))
            let indices = Array(stride(from: 0, to: source.count, by: step).prefix(pairs))
            let samples = try indices.map { try source.sample(at: $0) }
            let images = samples.map(\.image)
            let sampler = PairSampler(recipe: recipe, seed: seed, stretch: (source as? MDSSource)?.normalization ?? .none)
            let batch = sampler.makeBatch(images: images, samples: indices, epoch: epoch, threads: threadOptions.threads,
                                          maps: samples.map { sampler.foregroundMap($0) }, recordRejected: showRejected)
            try ViewGrid.make(images: images, ids: samples.map(\.id), batch: batch, showRejected: showRejected,
                              title: "Views of \(sourceOptions.source) (epoch \(epoch), seed \(seed))").writePNG(path: output)
            if let dir = saveViews { try ViewExport.write(batch, ids: indices.map { source.id(at: $0) }, to: dir) }
            let stats = batch.stats
            if json {
                try JSONOutput.print(PreviewReport(output: output, images: images.count, viewsPerImage: recipe.viewCount,
                                                   seed: seed, epoch: epoch, savedViews: saveViews, stats: stats))
                return
            }
            if quiet { return }
            print("wrote \(output): \(images.count) images x \(recipe.viewCount) views")
            print(String(format: "acceptance %.3f (global %.3f, local %.3f), mean retries global %.2f local %.2f, fallbacks %d, images without foreground %d",
                         stats.acceptance, stats.global.acceptance, stats.local.acceptance, stats.global.meanRetries,
                         stats.local.meanRetries, stats.global.fallbacks + stats.local.fallbacks, stats.imagesWithoutForeground))
            if let dir = saveViews { print("views: \(dir)/global.npy, \(dir)/local.npy, \(dir)/boxes.json") }
        }
    }
}

/// What `preview --json` prints: the figure, and the statistics of the views drawn on it.
struct PreviewReport: Encodable {
    let output: String
    let images: Int
    let viewsPerImage: Int
    let seed: UInt64
    let epoch: Int
    let savedViews: String?
    let stats: ViewStats

    enum CodingKeys: String, CodingKey { case output, images, viewsPerImage = "views_per_image", seed, epoch, savedViews = "saved_views", stats }
}
