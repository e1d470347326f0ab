import Foundation
import Testing
import Cropping
import LensData
import LensSynth
@testable import PairSampler
import _TestSupport

@Suite struct PairSamplerTests {
    static func lenses(_ n: Int, offset: Double = 8) -> [LensImage] {
        let sim = LensSimulator(config: SynthConfig(size: 64, seed: 12, lensOffset: offset))
        return (0..<n).map { LensImage(channels: 1, height: 64, width: 64, pixels: sim.render(index: $0).pixels.map(Float.init)) }
    }

    /// A small 60-degree arc of radius 16 px, centred on a lens at (+10, +10) from the stamp centre,
    /// on Gaussian sky: the case where most random local crops hold no lens.
    static func offCentreArcs(_ n: Int) -> [LensImage] {
        (0..<n).map { k in
            var rng = Philox4x64(seed: 77, stream: UInt64(k))
            var image = LensImage(height: 64, width: 64)
            let (cx, cy) = (41.5, 41.5)
            let start = Double(k) * 0.7
            for y in 0..<64 {
                for x in 0..<64 {
                    let dx = Double(x) - cx, dy = Double(y) - cy
                    let r = (dx * dx + dy * dy).squareRoot()
                    var a = atan2(dy, dx) - start
                    while a < 0 { a += 2 * .pi }
                    let arc = a < .pi / 3 ? 50 * exp(-(r - 16) * (r - 16) / 2) : 0
                    image[0, y, x] = Float(arc + rng.normal())
                }
            }
            return image
        }
    }

    @Test func sameSeedSameBytesWhateverThreadsOrBatchSplits() {
        let images = Self.lenses(12)
        let sampler = PairSampler(recipe: ViewRecipe(), seed: 9)
        let one = sampler.makeBatch(images: images, samples: Array(0..<12), epoch: 3, threads: 1)
        let two = sampler.makeBatch(images: images, samples: Array(0..<12), epoch: 3, threads: 2)
        #expect(one.global.map(\.bitPattern) == two.global.map(\.bitPattern))
        #expect(one.local.map(\.bitPattern) == two.local.map(\.bitPattern))
        // Another split: images 5..<12 alone, in reverse order, keep their views.
        let idx = Array((5..<12).reversed())
        let part = sampler.makeBatch(images: idx.map { images[$0] }, samples: idx, epoch: 3, threads: 2)
        let g = one.global.count / 12, l = one.local.count / 12
        for (j, i) in idx.enumerated() {
            #expect(Array(part.global[(j * g)..<((j + 1) * g)]) == Array(one.global[(i * g)..<((i + 1) * g)]))
            #expect(Array(part.local[(j * l)..<((j + 1) * l)]) == Array(one.local[(i * l)..<((i + 1) * l)]))
        }
        // Other seed or epoch: other views.
        #expect(PairSampler(recipe: ViewRecipe(), seed: 10).makeBatch(images: images, samples: Array(0..<12), epoch: 3, threads: 1).local != one.local)
        #expect(sampler.makeBatch(images: images, samples: Array(0..<12), epoch: 4, threads: 1).local != one.local)
    }

    /// With rejection, every view meets its threshold unless it is a counted fallback; without it,
    /// views of plain sky appear.
    @Test func rejectionKeepsEveryViewOnTheArc() {
        let images = Self.offCentreArcs(40)
        var recipe = ViewRecipe()
        recipe.local.count = 8
        let on = PairSampler(recipe: recipe, seed: 1).makeBatch(images: images, samples: Array(0..<40), epoch: 0, threads: 2)
        var fallbacks = 0, retried = 0
        for r in on.records.joined() {
            let spec = recipe.spec(r.view)
            #expect(!r.noForeground)
            if r.fallback { fallbacks += 1; #expect(r.fluxShare > 0 || r.pixelFraction > 0) } else {
                #expect(r.fluxShare >= spec.minFluxShare && r.pixelFraction >= spec.minForegroundPixels, "view \(r.view): \(r.fluxShare)")
            }
            if r.retries > 0 { retried += 1 }
        }
        #expect(retried > 20, "the arc is off centre: many local crops must be retried")
        #expect(on.stats.local.fallbacks == fallbacks)
        #expect(on.stats.local.acceptance < 0.8)
        recipe.rejection = false
        let off = PairSampler(recipe: recipe, seed: 1).makeBatch(images: images, samples: Array(0..<40), epoch: 0, threads: 2)
        let empty = off.records.joined().filter { !$0.isGlobal && $0.fluxShare < recipe.local.minFluxShare }.count
        #expect(empty > 40, "without rejection, local views of sky appear (\(empty) of 320)")
        #expect(off.records.joined().allSatisfy { $0.retries == 0 && !$0.fallback })
    }

    /// Without rejection, the views that would have failed its test are still counted; with it,
    /// only fallbacks can fail, and images without a foreground never count.
    @Test func viewsRejectionWouldRedrawAreCountedWithRejectionOff() throws {
        let images = Self.offCentreArcs(40)
        var recipe = ViewRecipe()
        recipe.local.count = 8
        recipe.rejection = false
        let off = PairSampler(recipe: recipe, seed: 1).makeBatch(images: images, samples: Array(0..<40), epoch: 0, threads: 2)
        var failing = (global: 0, local: 0)
        for r in off.records.joined() {
            let spec = recipe.spec(r.view)
            let fails = r.fluxShare < spec.minFluxShare || r.pixelFraction < spec.minForegroundPixels
            #expect(r.wouldReject == fails, "view \(r.view): \(r.fluxShare) \(r.pixelFraction)")
            if fails { if r.isGlobal { failing.global += 1 } else { failing.local += 1 } }
        }
        let stats = off.stats
        #expect(stats.local.wouldReject == failing.local && stats.global.wouldReject == failing.global)
        #expect(stats.local.wouldReject > 40, "the arc is off centre: many local views hold only sky")
        #expect(stats.wouldReject == failing.global + failing.local)
        #expect(abs(stats.wouldRejectShare - Double(stats.wouldReject) / Double(40 * recipe.viewCount)) < 1e-12)
        #expect(abs(stats.local.wouldRejectShare - Double(failing.local) / 320) < 1e-12)
        #expect(stats.acceptance == 1, "nothing is rejected with rejection off")
        let json = try #require(try JSONSerialization.jsonObject(with: JSONEncoder().encode(stats)) as? [String: Any])
        #expect(json["would_reject"] as? Int == stats.wouldReject)
        #expect((json["local"] as? [String: Any])?["would_reject"] as? Int == failing.local)

        recipe.rejection = true
        let on = PairSampler(recipe: recipe, seed: 1).makeBatch(images: images, samples: Array(0..<40), epoch: 0, threads: 2)
        #expect(on.records.joined().allSatisfy { !$0.wouldReject || $0.fallback })
        #expect(on.stats.wouldReject <= on.stats.global.fallbacks + on.stats.local.fallbacks)
        var rng = Philox4x64(seed: 3, stream: 0)
        let sky = LensImage(channels: 1, height: 48, width: 48, pixels: (0..<(48 * 48)).map { _ in Float(rng.normal()) })
        let plain = PairSampler(recipe: recipe, seed: 1).makeBatch(images: [sky], samples: [0], epoch: 0, threads: 1)
        #expect(plain.stats.wouldReject == 0 && plain.stats.wouldRejectShare == 0)
    }

    @Test func imagesWithoutForegroundGetPlainCropsAndAreCounted() {
        var rng = Philox4x64(seed: 3, stream: 0)
        let sky = LensImage(channels: 1, height: 48, width: 48, pixels: (0..<(48 * 48)).map { _ in Float(rng.normal()) })
        let b = PairSampler(recipe: ViewRecipe(), seed: 2).makeBatch(images: [sky], samples: [0], epoch: 0, threads: 1)
        #expect(b.records[0].allSatisfy { $0.noForeground && $0.retries == 0 && !$0.fallback })
        #expect(b.stats.local.noForeground == 4)
    }

    /// Each operation fires with its probability (10,000 draws, within 3 sigma), and the symmetry is
    /// uniform over the 8 elements.
    @Test func probabilitiesHoldEmpirically() {
        var spec = ViewSpec(size: 32, blur: 0.1, gaussianNoise: 0.5)
        spec.rotation = 0.3
        spec.fluxScaling = 0.2
        spec.poissonNoise = 0.7
        spec.brightnessContrast = 0.05
        spec.solarize = 0.2
        spec.dihedral = 1
        let n = 10_000
        var counts = [String: Int]()
        var elements = [Int](repeating: 0, count: 8)
        for i in 0..<n {
            var rng = ViewKey(seed: 5, epoch: 0, sample: i, view: 1).generator()
            let p = ViewPlan.draw(spec, &rng)
            elements[p.dihedral] += 1
            if p.angle != 0 { counts["rotation", default: 0] += 1 }
            if p.blurSigma != nil { counts["blur", default: 0] += 1 }
            if p.noiseLevel != nil { counts["noise", default: 0] += 1 }
            if p.fluxFactor != nil { counts["flux", default: 0] += 1 }
            if p.poissonGain != nil { counts["poisson", default: 0] += 1 }
            if p.brightness != nil { counts["bc", default: 0] += 1 }
            if p.solarize { counts["solarize", default: 0] += 1 }
        }
        func within3Sigma(_ k: Int, _ p: Double, _ name: String) {
            let sd = (Double(n) * p * (1 - p)).squareRoot()
            #expect(abs(Double(k) - Double(n) * p) <= 3 * sd, "\(name): \(k) of \(n), expected p = \(p)")
        }
        for (name, p) in [("rotation", 0.3), ("blur", 0.1), ("noise", 0.5), ("flux", 0.2), ("poisson", 0.7), ("bc", 0.05), ("solarize", 0.2)] {
            within3Sigma(counts[name] ?? 0, p, name)
        }
        for (d, k) in elements.enumerated() { within3Sigma(k, 1.0 / 8, "dihedral element \(d)") }
        // The default recipe's DINO blur probabilities.
        let r = ViewRecipe()
        for (v, p) in [(0, 1.0), (1, 0.1), (2, 0.5)] {
            let fired = (0..<n).filter { i in var g = ViewKey(seed: 1, epoch: 0, sample: i, view: v).generator(); return ViewPlan.draw(r.spec(v), &g).blurSigma != nil }.count
            within3Sigma(fired, p, "default blur of view \(v)")
        }
    }

    /// A foreground map given the image's background estimate (what the training's view producer keeps
    /// per sample after its first epoch) is the map that computes it, and a given estimate is the one used.
    @Test func knownBackgroundMakesTheSameMap() {
        var g = Philox4x64(seed: 3, stream: 0)
        let (w, h) = (24, 24)
        let pixels = (0..<(w * h)).map { i in Float(10 + 2 * g.normal()) + (abs(i % w - 12) < 4 && abs(i / w - 12) < 4 ? 40 : 0) }
        let image = LensImage(channels: 1, height: h, width: w, pixels: pixels)
        let mask = (0..<(w * h)).map { i in abs(i % w - 12) < 4 && abs(i / w - 12) < 4 }
        let computed = ForegroundMap(image: image, mask: mask)
        let given = ForegroundMap(image: image, mask: mask, background: BackgroundEstimate(pixels: image.channelSum()))
        #expect(given.background == computed.background && given.sigma == computed.sigma && given.totalFlux == computed.totalFlux)
        #expect(given.fluxTable == computed.fluxTable && given.countTable == computed.countTable)
        let other = ForegroundMap(image: image, mask: mask, background: BackgroundEstimate(level: 0, sigma: 5, nonfinite: 0))
        #expect(other.background == 0 && other.sigma == 5 && other.totalFlux > computed.totalFlux)
    }

    /// The 8 symmetries on a 3x3 by hand.
    @Test func dihedralByHand() {
        let m: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9]
        let expected: [[Float]] = [
            [1, 2, 3, 4, 5, 6, 7, 8, 9],  // identity
            [3, 6, 9, 2, 5, 8, 1, 4, 7],  // 90 degrees counter-clockwise
            [9, 8, 7, 6, 5, 4, 3, 2, 1],  // 180
            [7, 4, 1, 8, 5, 2, 9, 6, 3],  // 270
            [3, 2, 1, 6, 5, 4, 9, 8, 7],  // mirror left-right
            [7, 8, 9, 4, 5, 6, 1, 2, 3],  // mirror top-bottom
            [1, 4, 7, 2, 5, 8, 3, 6, 9],  // transpose
            [9, 6, 3, 8, 5, 2, 7, 4, 1],  // anti-transpose
        ]
        for d in 0..<8 {
            var p = m
            p.withUnsafeMutableBufferPointer { ViewRenderer.dihedral(d, $0, size: 3) }
            #expect(p == expected[d], "element \(d)")
        }
    }

    /// Crops by hand: an axis-aligned crop shrunk by area averaging, grown bilinearly, and a continuous
    /// rotation by exactly 90 degrees that equals the exact symmetry.
    @Test func cropsAndRotationByHand() {
        let src = (0..<64).map { Float($0) }  // 8x8, value = 8y + x
        var out = [Float](repeating: 0, count: 4)
        src.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer {
            ViewRenderer.resample(s, width: 8, height: 8, crop: CropGeometry(centerX: 4, centerY: 4, width: 4, height: 4, angle: 0), size: 2, into: $0)
        } }
        #expect(out == [22.5, 24.5, 38.5, 40.5])  // means of the 2x2 blocks of rows 2-5, columns 2-5
        var up = [Float](repeating: 0, count: 16)
        src.withUnsafeBufferPointer { s in up.withUnsafeMutableBufferPointer {
            ViewRenderer.resample(s, width: 8, height: 8, crop: CropGeometry(centerX: 1, centerY: 1, width: 2, height: 2, angle: 0), size: 4, into: $0)
        } }
        // Output pixel (1, 1) sits at source (0.25, 0.25) from pixel (0, 0)'s centre: bilinear of 0, 1, 8, 9.
        #expect(up[5] == 0 * 0.5625 + 1 * 0.1875 + 8 * 0.1875 + 9 * 0.0625)
        // Turning the crop frame by +90 (-90) degrees is symmetry element 1 (3), pixel for pixel.
        for (angle, element) in [(Double.pi / 2, 1), (-Double.pi / 2, 3)] {
            var rotated = [Float](repeating: 0, count: 64), exact = src
            src.withUnsafeBufferPointer { s in rotated.withUnsafeMutableBufferPointer {
                ViewRenderer.resample(s, width: 8, height: 8, crop: CropGeometry(centerX: 4, centerY: 4, width: 8, height: 8, angle: angle), size: 8, into: $0)
            } }
            exact.withUnsafeMutableBufferPointer { ViewRenderer.dihedral(element, $0, size: 8) }
            #expect(zip(rotated, exact).allSatisfy { abs($0 - $1) < 1e-4 }, "rotation by \(angle): \(rotated.prefix(8)) vs \(exact.prefix(8))")
        }
        // A rotated crop never reaches outside the image.
        var rng = Philox4x64(seed: 1, stream: 1)
        let spec = ViewSpec(size: 16, scale: [0.05, 0.5])
        for _ in 0..<2000 {
            let angle = rng.uniform(-Double.pi, Double.pi)
            guard let g = CropGeometry.draw(spec, angle: angle, width: 64, height: 48, &rng) else { continue }
            for c in g.corners { #expect(c[0] >= -1e-9 && c[0] <= 64 + 1e-9 && c[1] >= -1e-9 && c[1] <= 48 + 1e-9) }
        }
    }

    @Test func photometricOperationsByHand() {
        // Blur of a delta is the normalised Gaussian (sigma 1: centre 0.1621 in 2-D with 5-tap... read from the 1-D kernel).
        var spec = ViewSpec(size: 9, blur: 1, gaussianNoise: 0)
        spec.clip = nil
        var delta = [Float](repeating: 0, count: 81)
        delta[40] = 1
        var rng = Philox4x64(seed: 0, stream: 0)
        var plan = ViewPlan()
        plan.blurSigma = 1
        delta.withUnsafeMutableBufferPointer { ViewRenderer.photometric(plan, spec: spec, $0, size: 9, sigma: 1, counts: false, &rng) }
        let k = (-3...3).map { exp(-Double($0 * $0) / 2) }, total = k.reduce(0, +)
        #expect(abs(Double(delta[40]) - (k[3] / total) * (k[3] / total)) < 1e-6)
        #expect(abs(Double(delta[41]) - (k[3] / total) * (k[4] / total)) < 1e-6)
        // Floats are not clipped unless the recipe asks.
        var values: [Float] = [-5, 0.5, 7]
        values.withUnsafeMutableBufferPointer { ViewRenderer.photometric(ViewPlan(), spec: spec, $0, size: 1, sigma: 1, counts: false, &rng) }
        #expect(values == [-5, 0.5, 7])
        spec.clip = [0, 1]
        values.withUnsafeMutableBufferPointer { ViewRenderer.photometric(ViewPlan(), spec: spec, $0, size: 1, sigma: 1, counts: false, &rng) }
        #expect(values == [0, 0.5, 1])
        // Poisson re-noising keeps counts' mean, adds variance mean/gain, and skips float images.
        var counts = [Float](repeating: 40, count: 20_000)
        plan = ViewPlan()
        plan.poissonGain = 1
        spec.clip = nil
        counts.withUnsafeMutableBufferPointer { ViewRenderer.photometric(plan, spec: spec, $0, size: 1, sigma: 1, counts: true, &rng) }
        let mean = counts.reduce(0, +) / Float(counts.count)
        let variance = counts.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Float(counts.count - 1)
        #expect(abs(mean - 40) < 0.3 && abs(variance - 40) < 2.5)
        #expect(counts.allSatisfy { $0 == $0.rounded() })
        var floats = [Float](repeating: 40, count: 10)
        floats.withUnsafeMutableBufferPointer { ViewRenderer.photometric(plan, spec: spec, $0, size: 1, sigma: 1, counts: false, &rng) }
        #expect(floats == [Float](repeating: 40, count: 10))
    }

    @Test func recipeFromJSON() throws {
        let json = #"{"local": {"count": 6, "size": 28, "scale": [0.05, 0.3], "rotation": 0.5}, "maxRetries": 20}"#
        let r = try JSONDecoder().decode(ViewRecipe.self, from: Data(json.utf8))
        #expect(r.local.count == 6 && r.local.size == 28 && r.local.scale == [0.05, 0.3] && r.local.rotation == 0.5)
        #expect(r.local.blur == 0.5 && r.local.dihedral == 1)  // defaults kept
        #expect(r.global == ViewRecipe.defaultGlobal && r.maxRetries == 20 && r.rejection)
        try r.validate()
        var bad = r
        bad.local.blur = 1.5
        #expect(throws: RecipeError.self) { try bad.validate() }
        do { try bad.validate() } catch { #expect("\(error)".contains("local.blur")) }
    }
}

/// `lenspipe preview` and `bench augment` as a user runs them.
@Suite struct PreviewCLITests {
    @Test func previewWritesGridViewsAndBoxes() throws {
        let dir = TestSupport.tempDir("preview")
        let r = try TestSupport.lenspipe(["preview", TestSupport.fixture("deeplense-mini/model1/train"), "-o", dir + "/grid.png",
                                          "--pairs", "5", "--show-rejected", "--save-views", dir + "/views", "--local-views", "3"])
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.contains("acceptance"))
        let png = try Data(contentsOf: URL(fileURLWithPath: dir + "/grid.png"))
        #expect(png.prefix(4) == Data([0x89, 0x50, 0x4E, 0x47]))
        let out = try TestSupport.python("""
        import sys, json, numpy as np
        g = np.load(sys.argv[1] + '/global.npy'); l = np.load(sys.argv[1] + '/local.npy'); b = json.load(open(sys.argv[1] + '/boxes.json'))
        print(g.shape, l.shape, len(b), len(b[0]['views']), b[0]['views'][0]['kind'], bool(np.isfinite(g).all()))
        """, [dir + "/views"]).trimmingCharacters(in: .newlines)
        #expect(out == "(5, 2, 1, 64, 64) (5, 3, 1, 32, 32) 5 5 global True")
    }

    @Test func benchAugmentPrintsJSON() throws {
        let r = try TestSupport.lenspipe(["bench", "augment", "--count", "100", "--repeats", "1", "--threads", "1"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try TestSupport.json(r.stdout)
        for key in ["images_per_s", "views_per_s", "acceptance"] { #expect(j[key] is Double, "\(key)") }
        #expect(j["rejection"] as? Bool == true)
        #expect(j["would_reject"] is Int && j["would_reject_share"] is Double)
    }

    @Test func benchAugmentWithoutRejectionReportsTheViewsItWouldHaveRedrawn() throws {
        let r = try TestSupport.lenspipe(["bench", "augment", "--count", "60", "--repeats", "1", "--threads", "1", "--no-rejection"])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try TestSupport.json(r.stdout)
        #expect(j["rejection"] as? Bool == false)
        #expect(j["acceptance"] as? Double == 1)
        let n = try #require(j["would_reject"] as? Int)
        let share = try #require(j["would_reject_share"] as? Double)
        #expect(n > 0, "random local crops of 64 px stamps with off-centre lenses include sky-only views")
        #expect(share > 0 && share < 1)
        let views = try #require(j["views"] as? [String: Any])
        let local = try #require(views["local"] as? [String: Any]), global = try #require(views["global"] as? [String: Any])
        #expect((local["would_reject"] as? Int ?? -1) + (global["would_reject"] as? Int ?? -1) == n)
    }
}
