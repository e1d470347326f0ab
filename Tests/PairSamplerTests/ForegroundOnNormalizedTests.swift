import Foundation
import Testing
import Cropping
import LensData
import LensSynth
@testable import PairSampler
import _TestSupport

/// The lens must be found in views of normalised data as on the raw image: `preprocess` stores the mask
/// it found before normalising, and detection on already-normalised images undoes the stretch.
@Suite struct ForegroundOnNormalizedTests {
    static func iou(_ a: [Bool], _ b: [Bool]) -> Double {
        var inter = 0, union = 0
        for i in a.indices { if a[i] && b[i] { inter += 1 }; if a[i] || b[i] { union += 1 } }
        return union == 0 ? 1 : Double(inter) / Double(union)
    }

    /// Synth lenses (64 and 150 px, off centre) and the deeplense-mini fixtures.
    static func images() throws -> [LensImage] {
        var images: [LensImage] = []
        for (size, seed) in [(64, 21), (150, 22)] {
            let sim = LensSimulator(config: SynthConfig(size: size, seed: UInt64(seed), lensOffset: 6))
            images += (0..<12).map { LensImage(channels: 1, height: size, width: size, pixels: sim.render(index: $0).pixels.map(Float.init)) }
        }
        for model in ["model1", "model2"] {
            let source = try NPYFolderSource(root: TestSupport.fixture("deeplense-mini/\(model)/train"))
            images += try (0..<min(source.count, 18)).map { try source.sample(at: $0).image }
        }
        return images
    }

    /// Each image as it is and normalised with each `--normalize` choice (the stretch's sky measured on
    /// the raw image, as `preprocess` does); detection on the normalised image, told its stretch, against
    /// detection on the raw one. (A lens-dominated 64 px cut of a 150 px image has no sky to measure:
    /// that is why shards store the mask found on the whole raw image.)
    @Test func maskOnEveryNormalisationAgreesWithTheRawOne() throws {
        let images = try Self.images()
        let detector = ForegroundDetector(config: CropConfig())
        let stats = Normalization.DatasetStats(low: -5, high: 200, background: 1, sigma: 2)

        for name in Normalization.names {
            let normalization = Normalization(name: name, stats: stats)!
            let cropper = Cropper(config: CropConfig(policy: .none, normalization: normalization))
            var ious: [Double] = []
            for image in images {
                let rawMap = ForegroundMap(image: image, detector: detector)
                guard !rawMap.isEmpty else { continue }
                let map = ForegroundMap(image: cropper.crop(image).0, detector: detector, stretch: normalization)
                ious.append(Self.iou(rawMap.mask, map.mask))
            }
            #expect(ious.count >= 50, "\(name): lenses found on \(ious.count) raw crops")
            let mean = ious.reduce(0, +) / Double(ious.count)
            #expect(mean >= 0.9, "\(name): mean IoU \(mean)")
            #expect(ious.min()! >= 0.75, "\(name): worst IoU \(ious.min()!)")
        }
    }

    @Test func storedMaskIsTheRawDetectionAndViewsUseIt() throws {
        let sim = LensSimulator(config: SynthConfig(size: 150, seed: 5, lensOffset: 10))
        let image = LensImage(channels: 1, height: 150, width: 150, pixels: sim.render(index: 1).pixels.map(Float.init))
        let cropper = Cropper(config: CropConfig(policy: .fixed, size: 64, normalization: .asinh(softening: 1)))
        let cropped = cropper.cropWithForeground(image)
        // The stored mask is the full-image detection, cut with the crop window.
        let fg = ForegroundDetector(config: CropConfig()).detect(plane: image.channelSum(), width: 150, height: 150)
        let box = cropped.record.box
        for y in 0..<64 { for x in 0..<64 { #expect(cropped.foreground[y * 64 + x] == fg.mask[(box.y0 + y) * 150 + box.x0 + x]) } }
        #expect(cropped.foreground.contains(true))
        let sampler = PairSampler(recipe: ViewRecipe(), seed: 3, stretch: .asinh(softening: 1))
        let map = sampler.foregroundMap(cropped.image, mask: cropped.foreground)
        #expect(map.mask == cropped.foreground)
        let batch = sampler.makeBatch(images: [cropped.image], samples: [0], epoch: 0, threads: 1, maps: [map])
        #expect(batch.stats.imagesWithoutForeground == 0)
    }

    @Test func cropMajorLayoutHoldsTheSameViews() {
        let images = PairSamplerTests.lenses(5)
        let sampler = PairSampler(recipe: ViewRecipe(), seed: 4)
        let a = sampler.makeBatch(images: images, samples: Array(0..<5), epoch: 1, threads: 2)
        let b = sampler.makeBatch(images: images, samples: Array(0..<5), epoch: 1, threads: 2, layout: .cropMajor)
        let (G, L, S, s) = (a.globalViews, a.localViews, a.globalSize, a.localSize)
        for k in 0..<5 {
            for v in 0..<G { #expect(Array(a.global[((k * G + v) * S * S)..<((k * G + v + 1) * S * S)]) == Array(b.global[((v * 5 + k) * S * S)..<((v * 5 + k + 1) * S * S)])) }
            for v in 0..<L { #expect(Array(a.local[((k * L + v) * s * s)..<((k * L + v + 1) * s * s)]) == Array(b.local[((v * 5 + k) * s * s)..<((v * 5 + k + 1) * s * s)])) }
        }
    }

    @Test func acceptanceAndMeanRetriesDescribeTheSameDraws() {
        let images = PairSamplerTests.offCentreArcs(16) + [LensImage(height: 64, width: 64)]  // the last one is empty sky
        var recipe = ViewRecipe()
        recipe.maxRetries = 200  // no fallbacks: acceptance = 1 / (1 + mean retries) exactly
        let stats = PairSampler(recipe: recipe, seed: 2).makeBatch(images: images, samples: Array(0..<17), epoch: 0, threads: 2).stats
        #expect(stats.imagesWithoutForeground == 1)
        for kind in [stats.global, stats.local] where kind.fallbacks == 0 {
            #expect(abs(kind.acceptance - 1 / (1 + kind.meanRetries)) < 1e-9)
        }
        #expect(stats.local.noForeground == recipe.local.count)
    }
}
