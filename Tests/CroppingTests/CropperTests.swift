import Foundation
import Testing
import LensData
import LensSynth
import _TestSupport
@testable import Cropping

@Suite struct CropperTests {
    /// Noisy and noiseless renders of the same lenses (noise is drawn after the geometry).
    static func pairs(count: Int, size: Int = 150, offset: Double = 30, seed: UInt64 = 21) -> [(noisy: LensImage, clean: SynthLens)] {
        let noisy = LensSimulator(config: SynthConfig(size: size, seed: seed, lensOffset: offset))
        let clean = LensSimulator(config: SynthConfig(size: size, seed: seed, lensOffset: offset, noise: false))
        return (0..<count).map { i in
            let n = noisy.render(index: i)
            return (LensImage(channels: 1, height: size, width: size, pixels: n.pixels.map(Float.init)), clean.render(index: i))
        }
    }

    /// On off-centre lenses, a fixed window large enough for the ring keeps >= 99% of the noiseless
    /// lens flux, though the window is placed from the noisy image.
    @Test func fixedCropKeepsTheNoiselessFlux() {
        let cropper = Cropper(config: CropConfig(policy: .fixed, size: 100))
        var offCentre = 0
        for (noisy, clean) in Self.pairs(count: 30) {
            let (crop, record) = cropper.crop(noisy)
            #expect(crop.shape == [1, 100, 100])
            #expect(!record.flags.contains(.emptyForeground))
            let peak = clean.pixels.max()!
            var total = 0.0, inside = 0.0
            for y in 0..<150 {
                for x in 0..<150 {
                    let v = clean.pixels[y * 150 + x]
                    guard v > 0.001 * peak else { continue }  // the lens, not the PSF's far wings
                    total += v
                    if x >= record.box.x0 && x < record.box.x1 && y >= record.box.y0 && y < record.box.y1 { inside += v }
                }
            }
            #expect(inside / total >= 0.99, "image \(clean.index): kept \(inside / total), box \(record.box), lens \(clean.lensX), \(clean.lensY)")
            #expect(record.keptFluxShare >= 0.99)
            if abs(clean.lensX - 74.5) > 15 || abs(clean.lensY - 74.5) > 15 { offCentre += 1 }
            // The crop is the source window, unresampled.
            #expect(crop[0, 10, 20] == noisy[0, record.box.y0 + 10, record.box.x0 + 20])
        }
        #expect(offCentre >= 5, "the test must include lenses well off centre")
    }

    /// On noiseless rings the detected centroid is the flux-weighted centroid, within 1 px.
    @Test func centroidWithinOnePixelOnNoiselessRings() {
        let detector = ForegroundDetector(config: CropConfig())
        for (_, clean) in Self.pairs(count: 15) {
            let plane = clean.pixels.map(Float.init)
            var sum = 0.0, sx = 0.0, sy = 0.0
            for y in 0..<150 { for x in 0..<150 { let v = clean.pixels[y * 150 + x]; sum += v; sx += v * Double(x); sy += v * Double(y) } }
            let fg = detector.detect(plane: plane, width: 150, height: 150)
            #expect(abs(Double(fg.centroidX) - sx / sum) < 1 && abs(Double(fg.centroidY) - sy / sum) < 1,
                    "image \(clean.index): \(fg.centroidX), \(fg.centroidY) vs \(sx / sum), \(sy / sum)")
        }
    }

    /// Pure-noise images are flagged empty and cropped at the centre, not at a noise spike.
    @Test func pureNoiseIsEmptyAndCentred() {
        let cropper = Cropper(config: CropConfig(policy: .fixed, size: 64))
        var rng = Philox4x64(seed: 4, stream: 0)
        for k in 0..<60 {
            let side = k % 2 == 0 ? 150 : 64
            let pixels: [Float] = (0..<(side * side)).map { _ in
                switch k % 3 {
                case 0: return Float(10 + 5 * rng.normal())      // Gaussian sky
                case 1: return Float(rng.poisson(3))             // faint Poisson counts, as Model I's sky
                default: return Float(0.005 + 0.012 * rng.normal())  // Model II-like floats, negative values
                }
            }
            let (_, record) = cropper.crop(LensImage(channels: 1, height: side, width: side, pixels: pixels))
            #expect(record.flags.contains(.emptyForeground), "noise image \(k) (\(side) px) found a lens at \(record.centroidX), \(record.centroidY)")
            let start = side == 150 ? 43 : 0
            #expect(record.box == PixelBox(x0: start, y0: start, x1: start + 64, y1: start + 64), "image \(k)")
        }
    }

    /// No normalisation yields NaN or Inf, on any input.
    @Test func normalisationIsAlwaysFinite() {
        let stats = Normalization.DatasetStats(low: 0, high: 0, background: .nan, sigma: 0)
        let modes: [Normalization] = [.none, .minmax(nil), .minmax(stats), .zscore(nil), .zscore(stats), .asinh(softening: 1), .asinh(softening: 0), .asinhFlux(softening: 3), .asinhFlux(softening: 0), .log1p, .lensFlux(nil), .lensFlux(stats), .lens]
        var inputs: [[Float]] = [
            [Float](repeating: 0, count: 400), [Float](repeating: 7.5, count: 400), [Float](repeating: -3, count: 400),
            [Float](repeating: .nan, count: 400), [Float](repeating: .infinity, count: 400),
            (0..<400).map { $0 % 2 == 0 ? 3.4e38 : -3.4e38 }, (0..<400).map { $0 == 17 ? 1e30 : 0 },
        ]
        var mixed = (0..<400).map { Float($0) }
        mixed[3] = .nan; mixed[5] = -.infinity; mixed[7] = .infinity
        inputs.append(mixed)
        for (n, input) in inputs.enumerated() {
            for policy in CropConfig.Policy.allCases {
                for mode in modes {
                    for side in [8, 32] {
                        let cropper = Cropper(config: CropConfig(policy: policy, size: side, normalization: mode))
                        let (crop, _) = cropper.crop(LensImage(channels: 1, height: 20, width: 20, pixels: input))
                        #expect(crop.pixels.allSatisfy { $0.isFinite }, "input \(n), \(policy), \(mode.name), size \(side)")
                    }
                }
            }
        }
    }

    @Test func normalisationNamesRoundTrip() {
        let stats = Normalization.DatasetStats(low: 0, high: 1, background: 0, sigma: 1)
        for name in Normalization.names {
            let n = Normalization(name: name, stats: stats)
            #expect(n?.name == name, "\(name)")
        }
        #expect(Normalization(name: "bogus") == nil)
    }

    @Test func normalisationValues() {
        var p: [Float] = [2, 4, 6]
        Normalization.minmax(nil).apply(to: &p, background: 0, sigma: 1)
        #expect(p == [0, 0.5, 1])
        p = [2, 4, 6]
        Normalization.zscore(nil).apply(to: &p, background: 4, sigma: 2)
        #expect(p == [-1, 0, 1])
        p = [2, 4, 6]
        Normalization.minmax(.init(low: 0, high: 10, background: 0, sigma: 1)).apply(to: &p, background: 0, sigma: 1)
        #expect(p == [0.2, 0.4, 0.6])
        p = [4, 6]
        Normalization.asinh(softening: 2).apply(to: &p, background: 4, sigma: 0.5)
        #expect(p == [0, Float.asinh(2)])
        // asinh-flux: width S sigma = 1; linear near the background, logarithmic far above it.
        p = [4, 4.01, 104]
        Normalization.asinhFlux(softening: 2).apply(to: &p, background: 4, sigma: 0.5)
        #expect(p[0] == 0 && abs(p[1] - 0.01) < 1e-6 && p[2] == Float.asinh(100))
        p = [1, 9]
        Normalization.log1p.apply(to: &p, background: 4, sigma: 5)
        #expect(p == [0, Float.log(2)])
        // lens-dataset: the image's sky off, divided by the data set's lens brightness (100 sigmas unmeasured).
        p = [4, 8, 2]
        Normalization.lensFlux(.init(low: 0, high: 1, background: 0, sigma: 1, flux: 4)).apply(to: &p, background: 4, sigma: 0.5)
        #expect(p == [0, 1, -0.5])
        p = [4, 54]
        Normalization.lensFlux(nil).apply(to: &p, background: 4, sigma: 0.5)
        #expect(p == [0, 1])
        // lens: the image's own lens brightness (100 sigmas without a foreground).
        p = [4, 8, 2]
        Normalization.lens.apply(to: &p, background: 4, sigma: 0.5, lensFlux: 2)
        #expect(p == [0, 2, -1])
        p = [4, 54]
        Normalization.lens.apply(to: &p, background: 4, sigma: 0.5)
        #expect(p == [0, 1])
    }

    /// `lens` takes each image's brightness off too: the same lens exposed three times longer (3 x, on
    /// its own pedestal) crops to the same pixels, where `lens-dataset` keeps the factor of 3.
    @Test func perImageLensNormalisationIgnoresTheExposure() throws {
        let images = Self.pairs(count: 6, size: 64, offset: 4).map(\.noisy)
        var config = CropConfig(policy: .fixed, size: 48)
        config.normalization = .lens
        #expect(Normalization(name: "lens") == .lens && Normalization.lens.name == "lens")
        for x in images {
            let longer = LensImage(channels: 1, height: x.height, width: x.width, pixels: x.pixels.map { 3 * $0 + 7 })
            let pa = Cropper(config: config).crop(x).0.pixels, pb = Cropper(config: config).crop(longer).0.pixels
            #expect(zip(pa, pb).allSatisfy { abs($0 - $1) < 1e-3 }, "largest difference \(zip(pa, pb).map { abs($0 - $1) }.max() ?? 0)")
            let top = pa.sorted()[pa.count * 99 / 100]
            #expect(top > 0.5 && top < 2, "the lens's bright pixels sit near 1 (99th percentile \(top))")
        }
    }

    /// `lens-dataset` makes the units irrelevant: the same lenses in other units and on a sky pedestal
    /// (1000 x + 50, counts against a flux) calibrate and crop to the same pixels, a bright lens near 1.
    @Test func lensNormalisationIgnoresTheUnits() throws {
        let images = Self.pairs(count: 12, size: 64, offset: 4).map(\.noisy)
        let other = images.map { LensImage(channels: 1, height: $0.height, width: $0.width, pixels: $0.pixels.map { 1000 * $0 + 50 }) }
        let config = CropConfig(policy: .fixed, size: 48)
        let a = try #require(CropCalibration.normalization(named: "lens-dataset", images: images, config: config, threads: 2))
        let b = try #require(CropCalibration.normalization(named: "lens-dataset", images: other, config: config, threads: 2))
        let flux = try #require(a.datasetStats?.flux)
        #expect(abs(try #require(b.datasetStats?.flux) / flux - 1000) < 10, "lens brightness scales with the units")
        var cropA = config, cropB = config
        (cropA.normalization, cropB.normalization) = (a, b)
        for (x, y) in zip(images, other) {
            let pa = Cropper(config: cropA).crop(x).0.pixels, pb = Cropper(config: cropB).crop(y).0.pixels
            #expect(zip(pa, pb).allSatisfy { abs($0 - $1) < 1e-2 }, "largest difference \(zip(pa, pb).map { abs($0 - $1) }.max() ?? 0)")
            let top = pa.sorted()[pa.count * 99 / 100]
            #expect(top > 0.1 && top < 10, "the lens's bright pixels sit near 1, not in the units (99th percentile \(top))")
        }
        #expect(Normalization(name: "lens-dataset", stats: a.datasetStats) == a)
        #expect(Normalization(name: "zscore-dataset", stats: a.datasetStats)?.datasetStats?.flux == nil, "other modes keep their old record")
    }

    @Test func centerNoneBboxAndPadding() {
        // A bright disk of radius 6 at (40, 12) on a 60x50 sky of 1.
        var image = LensImage(height: 50, width: 60, repeating: 1)
        for y in 0..<50 { for x in 0..<60 where (x - 40) * (x - 40) + (y - 12) * (y - 12) <= 36 { image[0, y, x] = 100 } }
        let center = Cropper(config: CropConfig(policy: .center, size: 20)).crop(image).1
        #expect(center.box == PixelBox(x0: 20, y0: 15, x1: 40, y1: 35))
        let fixed = Cropper(config: CropConfig(policy: .fixed, size: 30)).crop(image).1
        #expect(fixed.box == PixelBox(x0: 26, y0: 0, x1: 56, y1: 30))  // 40 - 14.5 rounds to 26
        #expect(fixed.flags.contains(.clippedAtBorder))
        #expect(abs(fixed.centroidX - 40) < 0.01 && abs(fixed.centroidY - 12) < 0.01)
        let none = Cropper(config: CropConfig(policy: .none)).crop(image)
        #expect(none.0 == image && none.1.zoom == 1)
        let bbox = Cropper(config: CropConfig(policy: .bbox, size: 32, margin: 0.5)).crop(image)
        // The smoothed mask spans a little more than the disk's 13 px; the margin doubles it.
        #expect(bbox.1.box.width == bbox.1.box.height)
        #expect(bbox.1.box.width >= 26 && bbox.1.box.width <= 34)
        #expect(bbox.1.zoom == 32 / Float(bbox.1.box.width))
        #expect(bbox.0.shape == [1, 32, 32])
        // An image smaller than the window is padded with the background level, centred.
        let small = Cropper(config: CropConfig(policy: .fixed, size: 64)).crop(LensImage(height: 40, width: 40, repeating: 5))
        #expect(small.1.flags.contains(.padded))
        #expect(small.0.pixels.allSatisfy { $0 == 5 })
        #expect(small.1.box == PixelBox(x0: -12, y0: -12, x1: 52, y1: 52))
    }

    @Test func resamplingByHand() {
        let src: [Float] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]  // 4x4
        var out = [Float](repeating: 0, count: 4)
        src.withUnsafeBufferPointer { s in out.withUnsafeMutableBufferPointer {
            Resample.window(s, width: 4, height: 4, x0: 0, y0: 0, side: 4, size: 2, fill: 0, into: $0)
        } }
        #expect(out == [3.5, 5.5, 11.5, 13.5])  // 2x2 block means
        var third = [Float](repeating: 0, count: 9)
        let six = (0..<36).map { Float($0 % 6) }  // 6x6, value = x
        six.withUnsafeBufferPointer { s in third.withUnsafeMutableBufferPointer {
            Resample.window(s, width: 6, height: 6, x0: 0, y0: 0, side: 6, size: 3, fill: 0, into: $0)
        } }
        #expect(third == [0.5, 2.5, 4.5, 0.5, 2.5, 4.5, 0.5, 2.5, 4.5])
        var up = [Float](repeating: 0, count: 16)
        let two: [Float] = [0, 4, 8, 12]  // 2x2
        two.withUnsafeBufferPointer { s in up.withUnsafeMutableBufferPointer {
            Resample.window(s, width: 2, height: 2, x0: 0, y0: 0, side: 2, size: 4, fill: 0, into: $0)
        } }
        // Bilinear with half-pixel centres: output x = 0.25, 0.75, 1.25, 1.75 in source units.
        #expect(up[5] == 0 * 0.5625 + 4 * 0.1875 + 8 * 0.1875 + 12 * 0.0625)
    }

    /// The dilation against a brute-force square neighbourhood, on random masks of odd shapes.
    @Test func dilationMatchesBruteForce() {
        var rng = Philox4x64(seed: 9, stream: 0)
        for (w, h, r) in [(7, 5, 1), (16, 16, 2), (9, 13, 3), (4, 4, 0)] {
            let mask = (0..<(w * h)).map { _ in rng.next() % 11 == 0 }
            let fast = Cropper.dilated(mask, width: w, height: h, radius: r)
            for y in 0..<h {
                for x in 0..<w {
                    var near = false
                    for dy in -r...r { for dx in -r...r where (0..<w).contains(x + dx) && (0..<h).contains(y + dy) && mask[(y + dy) * w + x + dx] { near = true } }
                    #expect(fast[y * w + x] == near, "\(w)x\(h) r \(r) at (\(x), \(y))")
                }
            }
        }
    }

    /// `skyZero`: pixels beyond R of the lens are exactly 0, the rest as without it; refused after a
    /// normalisation that leaves the sky where it was.
    @Test func skyZeroClearsOnlyTheFarSky() throws {
        let image = Self.pairs(count: 1, size: 64, offset: 4)[0].noisy
        var config = CropConfig(policy: .fixed, size: 48, normalization: .zscore(nil))
        let plain = Cropper(config: config).cropWithForeground(image)
        config.skyZero = 3
        let cleared = Cropper(config: config).cropWithForeground(image)
        let near = Cropper.dilated(plain.foreground, width: 48, height: 48, radius: 3)
        #expect(near.contains(false) && near.contains(true))
        for i in near.indices { #expect(cleared.image.pixels[i] == (near[i] ? plain.image.pixels[i] : 0), "pixel \(i)") }
        try config.validate()
        config.normalization = .none
        #expect(throws: CropConfigError.self) { try config.validate() }
        #expect(CropConfig.skyZeroProblem(radius: 300, normalization: "lens")?.contains("0...256") == true)
        #expect(CropConfig.skyZeroProblem(radius: 4, normalization: "lens") == nil)
    }

    /// Rings in DeepLense Model I data span ~71-75 px; `--size auto` finds a window that holds them
    /// (on the real deeplense-mini sample) and does not cut simulated ones.
    @Test func autoSizeHoldsTheRings() throws {
        let real = try NPYFolderSource(root: TestSupport.fixture("deeplense-mini/model1/train"))
        let c = CropCalibration.run(source: real, config: CropConfig(), threads: 2)
        #expect(c.autoSize >= 76 && c.autoSize <= 100, "auto size \(c.autoSize)")
        #expect(c.autoSize % 2 == 0)
        #expect(c.stats.low >= 0 && c.stats.high > 100)
        #expect(c.sampled == 36)
        let cropper = Cropper(config: CropConfig(policy: .fixed, size: c.autoSize))
        for i in 0..<real.count { #expect(try cropper.crop(real.sample(at: i).image).1.keptFluxShare == 1) }
    }
}
