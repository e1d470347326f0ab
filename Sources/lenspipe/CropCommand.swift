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
            Background and noise come from a sigma-clipped median and MAD; the foreground is every 8-connected group of pixels above background + k sigma (after a light Gaussian smoothing) that reaches background + 5 sigma and carries the lens's flux. Policies:
              fixed   SIZE x SIZE around the foreground centroid, no resampling
                      (keeps the pixel scale)
              bbox    a square around the foreground plus a margin, resampled
                      to SIZE (zoom recorded)
              center  SIZE x SIZE at the image centre
              none    the whole image

            --size auto picks the smallest window holding the whole foreground of 99% of a sample; the default is that window, but at least 64 px (the network's view) unless the images are smaller.

            Examples:
              lenspipe crop data/model1/train --size auto -o crops.png
              lenspipe crop data.h5:/images --size 64 --crop bbox --json
            """)

        @OptionGroup var sourceOptions: SourceOptions
        @OptionGroup var cropOptions: CropOptions
        @OptionGroup var threadOptions: ThreadOptions

        @Flag(help: "Print the summary as JSON.")
        var json = false

        @Option(name: [.customShort("o"), .customLong("output")], help: ArgumentHelp("Also write a PNG: draw originals with their crop boxes (blue; red when no lens was found) next to the crops.",
                                   valueName: "sheet.png"))
        var output: String?

        @Option(name: .customLong("png"), help: .hidden)
        var legacyPNG: String?
        var png: String? { output ?? legacyPNG }

        @Option(help: "Rows on the -o sheet.")
        var rows = 12

        @Flag(help: "No progress line.")
        var quiet = false

        func run() throws {
            let source = try MDSSource.open(sourceOptions.spec)
            let (config, calibration) = cropOptions.resolve(source: source, threads: threadOptions.threads)
            if let calibration, !(quiet || json) { print(CropText.calibration(calibration, config: config, auto: cropOptions.size.map { $0 == .auto } ?? true, on: source.summary)) }
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

extension CropConfig.Policy: ExpressibleByArgument {}

enum CropText {
    /// One line on what the calibration pass measured and on which images.
    static func calibration(_ c: CropCalibration, config: CropConfig, auto: Bool, on: String) -> String {
        var parts: [String] = []
        if auto {
            parts.append("size auto: \(c.autoSize) px holds the whole foreground of 99% of the sample"
                         + (config.size != c.autoSize ? "; window \(config.size) px (the default: at least \(CropConfig.defaultMinimumWindow) px)" : ""))
        }
        if let s = config.normalization.datasetStats {
            parts.append(String(format: "%@ statistics: low %.4g, high %.4g, background %.4g, sigma %.4g", config.normalization.name, s.low, s.high, s.background, s.sigma)
                         + (s.flux.map { String(format: ", lens brightness %.4g", $0) } ?? ""))
        }
        if let r = c.exposureCorrelation {
            parts.append(String(format: "sky level and lens brightness correlate %.2f across images (%@)", r,
                                r > CropCalibration.exposureCorrelationThreshold ? "the exposure varies per image" : "brightness is comparable across images"))
        }
        return "calibrated on \(c.sampled) images of \(on): " + parts.joined(separator: "; ")
    }

    /// A warning when the crops cut lenses (`CropSummary.cutsLenses`).
    static func cutWarning(_ s: CropSummary) -> String? {
        guard s.cutsLenses else { return nil }
        let k = s.keptFluxShare
        return String(format: "warning: the %d px window cuts lenses (median kept flux %.3f, 5th percentile %.3f); --size auto measures the window that holds 99%% of the foregrounds (lenspipe crop SOURCE --size auto shows it)", s.size, k.median, k.p05)
    }

    static func render(_ s: CropSummary) -> String {
        let k = s.keptFluxShare
        var lines = ["images:     \(s.images) cropped (\(s.policy), \(s.size) px, normalisation \(s.normalization))",
                     String(format: "kept flux:  min %.4f  p01 %.4f  p05 %.4f  median %.4f  mean %.4f", k.min, k.p01, k.p05, k.median, k.mean)]
        if s.policy == "bbox" { lines.append(String(format: "zoom:       min %.3f  median %.3f  max %.3f", s.zoom.min, s.zoom.median, s.zoom.max)) }
        lines.append("flags:      " + (s.flags.isEmpty ? "none" : s.flags.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", ")))
        return lines.joined(separator: "\n")
    }
}
