import ArgumentParser
import Cropping
import Foundation
import LensData
import Render
import ShardWriter

extension LensPipe {
    struct Crop: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Find each image's lens, crop around it, and report how much of the lens the crops keep.",
            discussion: """
            Background and noise come from a sigma-clipped median and MAD; the foreground is every
            8-connected group of pixels above background + k sigma (after a light Gaussian smoothing)
            that reaches background + 5 sigma and carries the lens's flux. Policies:
              fixed   SIZE x SIZE around the foreground centroid, no resampling (keeps the pixel scale)
              bbox    a square around the foreground plus a margin, resampled to SIZE (zoom recorded)
              center  SIZE x SIZE at the image centre
              none    the whole image
            --size auto picks the smallest window holding the whole foreground of 99% of a sample.

            Examples:
              lenspipe crop data/model1/train --size auto --png crops.png
              lenspipe crop data.h5:/images --size 64 --crop bbox --json
            """)

        @OptionGroup var sourceOptions: SourceOptions
        @OptionGroup var cropOptions: CropOptions
        @OptionGroup var threadOptions: ThreadOptions

        @Flag(help: "Print the summary as JSON.")
        var json = false

        @Option(help: ArgumentHelp("Draw originals with their crop boxes (blue; red when no lens was found) next to the crops.",
                                   valueName: "sheet.png"))
        var png: String?

        @Option(help: "Rows on the --png sheet.")
        var rows = 12

        @Flag(help: "No progress output.")
        var quiet = false

        func run() throws {
            let source = try MDSSource.open(sourceOptions.spec)
            let config = try cropOptions.resolve(source: source, threads: threadOptions.threads, quiet: quiet || json)
            let cropper = Cropper(config: config)
            let meter = ProgressMeter("crop", total: source.count, quiet: quiet || source.count < 2000)
            let result = CropRun.run(source: source, cropper: cropper, threads: threadOptions.threads) { meter.update($0) }
            meter.finish()
            if json {
                let encoder = JSONEncoder()
                encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
                print(String(decoding: try encoder.encode(result.summary), as: UTF8.self))
            } else {
                print(CropText.render(result.summary))
                for f in result.failures.prefix(20) { print("error:  \(f.path): \(f.message)") }
            }
            if let png {
                let picked = CropSheet.worstFirst(result.records, count: rows).compactMap { try? source.sample(at: result.indices[$0]) }
                let sheet = try CropSheet.make(picked.map { s in let (c, r) = cropper.crop(s.image); return (s.image, c, r, s.id) },
                                               title: "Crops of \(sourceOptions.source) (\(cropper.config.policy), \(cropper.config.size) px)")
                try sheet.writePNG(path: png)
                if !json { print("crop sheet: \(png)") }
            }
            if !result.failures.isEmpty { throw ExitCode(1) }
        }
    }
}

/// The options that configure cropping; shared by `crop` and, later, `preprocess`.
struct CropOptions: ParsableArguments {
    @Option(help: "Output side in pixels, or 'auto' (smallest window holding the foreground of 99% of a sample).")
    var size: String = "64"

    @Option(name: [.customLong("crop"), .customLong("policy")], help: "Crop policy: fixed, bbox, center or none.")
    var policy: CropConfig.Policy = .fixed

    @Option(help: "none, minmax, minmax-dataset, zscore, zscore-dataset, asinh or log1p.")
    var normalize: String = "none"

    @Option(help: "Foreground threshold in noise sigmas above the background.")
    var k: Float = 3

    @Option(help: "Gaussian smoothing sigma (pixels) before thresholding; 0 turns it off.")
    var smoothing: Float = 1

    func validate() throws {
        if size != "auto" { guard let s = Int(size), s >= 4, s <= 4096 else { throw ValidationError("--size must be 4...4096 or 'auto'") } }
        guard Normalization.names.contains(normalize) else {
            throw ValidationError("--normalize must be one of " + Normalization.names.joined(separator: ", "))
        }
        guard k > 0 && k < 100 else { throw ValidationError("--k must be in (0, 100)") }
        guard smoothing >= 0 && smoothing <= 10 else { throw ValidationError("--smoothing must be in [0, 10]") }
    }

    /// The crop configuration, after a calibration pass when `auto` or data-set statistics need one.
    func resolve(source: any SampleSource, threads: Int, quiet: Bool) throws -> CropConfig {
        var config = CropConfig(policy: policy, size: Int(size) ?? 64, k: k, smoothing: smoothing)
        let needsCalibration = size == "auto" || Normalization.needsDatasetStats(normalize)
        var calibration: CropCalibration?
        if needsCalibration {
            calibration = CropCalibration.run(source: source, config: config, threads: threads)
            if size == "auto", let c = calibration {
                config.size = c.autoSize
                if !quiet { print("size auto: \(c.autoSize) px holds the whole foreground of 99% of \(c.sampled) sampled images") }
            }
        }
        config.normalization = Normalization(name: normalize, stats: calibration?.stats) ?? .none
        return config
    }
}

extension CropConfig.Policy: ExpressibleByArgument {}

enum CropText {
    static func render(_ s: CropSummary) -> String {
        let k = s.keptFluxShare
        var lines = ["images:     \(s.images) cropped (\(s.policy), \(s.size) px, normalisation \(s.normalization))",
                     String(format: "kept flux:  min %.4f  p01 %.4f  p05 %.4f  median %.4f  mean %.4f", k.min, k.p01, k.p05, k.median, k.mean)]
        if s.policy == "bbox" { lines.append(String(format: "zoom:       min %.3f  median %.3f  max %.3f", s.zoom.min, s.zoom.median, s.zoom.max)) }
        lines.append("flags:      " + (s.flags.isEmpty ? "none" : s.flags.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        return lines.joined(separator: "\n")
    }
}
