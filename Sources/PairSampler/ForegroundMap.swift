import Cropping
import LensData

/// What rejection sampling needs to know about one image, computed once: summed-area tables of the
/// foreground flux and pixel count (any axis-aligned crop is tested in O(1)), the foreground pixels
/// (for rotated crops and the constructive fallback), the noise level, and whether it is count data.
public struct ForegroundMap: Sendable {
    public let width: Int
    public let height: Int
    /// `(H+1) x (W+1)` inclusive prefix sums.
    let fluxTable: [Double]
    let countTable: [Int32]
    /// Foreground pixels and their flux weights.
    let pixels: [(x: Int32, y: Int32, w: Float)]
    public let totalFlux: Double
    public let background: Float
    public let sigma: Float
    /// Non-negative integers everywhere: Poisson re-noising applies.
    public let isCountData: Bool

    public var isEmpty: Bool { pixels.isEmpty || totalFlux <= 0 }

    /// Detects the foreground of `image`.
    /// - Parameter stretch: the normalisation the pixels already carry (a preprocessed data set's
    ///   `lenspipe.json` names it). asinh and log1p are undone before detection, so the detector sees
    ///   linear flux in units of the sky's sigma, as on the raw image; linear normalisations need nothing.
    public init(image: LensImage, detector: ForegroundDetector, stretch: Normalization = .none) {
        if let linear = stretch.linearized(image) {
            let fg = detector.detect(plane: linear, width: image.width, height: image.height)
            self.init(image: image, mask: fg.mask, weights: linear, background: BackgroundEstimate(pixels: image.channelSum()))
        } else {
            let plane = image.channelSum()
            let fg = detector.detect(plane: plane, width: image.width, height: image.height)
            self.init(image: image, mask: fg.mask, weights: plane, background: fg.background)
        }
    }

    /// Uses a known foreground mask (the shards' `foreground` column, found by `preprocess` on the raw
    /// image). Flux weights come from the pixels, linearised when `stretch` is asinh or log1p.
    /// - Parameters:
    ///   - mask: `[H, W]`, true on the lens.
    ///   - background: the image's `BackgroundEstimate` of its channel sum, if already known (a pure
    ///     function of the pixels: the training's view producer keeps each sample's from its first epoch).
    public init(image: LensImage, mask: [Bool], stretch: Normalization = .none, background known: BackgroundEstimate? = nil) {
        precondition(mask.count == image.width * image.height, "mask must be [H, W] of the image")
        let plane = image.channelSum()
        let background = known ?? BackgroundEstimate(pixels: plane)
        if let linear = stretch.linearized(image) {
            self.init(image: image, mask: mask, weights: linear, background: background, weightLevel: 0)
        } else {
            self.init(image: image, mask: mask, weights: plane, background: background)
        }
    }

    /// - Parameters:
    ///   - weights: `[H, W]` flux per pixel; a foreground pixel weighs `max(weight - weightLevel, 0)`.
    ///   - background: the sky of the pixels as they are (its sigma scales the views' added noise).
    init(image: LensImage, mask: [Bool], weights plane: [Float], background bg: BackgroundEstimate, weightLevel: Float? = nil) {
        let (w, h) = (image.width, image.height)
        let level = weightLevel ?? bg.level
        width = w
        height = h
        background = bg.level
        sigma = bg.sigma
        isCountData = image.pixels.allSatisfy { $0 >= 0 && $0 == $0.rounded() && $0 < 1e7 }
        var flux = [Double](repeating: 0, count: (w + 1) * (h + 1))
        var count = [Int32](repeating: 0, count: (w + 1) * (h + 1))
        var list: [(x: Int32, y: Int32, w: Float)] = []
        var total = 0.0
        for y in 0..<h {
            var rowFlux = 0.0
            var rowCount: Int32 = 0
            for x in 0..<w {
                let i = y * w + x
                if mask[i] {
                    let v = plane[i].isFinite ? max(plane[i] - level, 0) : 0
                    rowFlux += Double(v)
                    rowCount += 1
                    total += Double(v)
                    list.append((Int32(x), Int32(y), v))
                }
                flux[(y + 1) * (w + 1) + x + 1] = flux[y * (w + 1) + x + 1] + rowFlux
                count[(y + 1) * (w + 1) + x + 1] = count[y * (w + 1) + x + 1] + rowCount
            }
        }
        fluxTable = flux
        countTable = count
        pixels = list
        totalFlux = total
    }

    /// `[H, W]`, true on the foreground (for tests and figures).
    public var mask: [Bool] {
        var m = [Bool](repeating: false, count: width * height)
        for p in pixels { m[Int(p.y) * width + Int(p.x)] = true }
        return m
    }

    /// Foreground flux share and pixel count inside the axis-aligned box `[x0, x1) x [y0, y1)`.
    func contents(x0: Int, y0: Int, x1: Int, y1: Int) -> (share: Double, count: Int) {
        let (a, b, c, d) = (max(x0, 0), max(y0, 0), min(x1, width), min(y1, height))
        guard a < c, b < d else { return (0, 0) }
        let s = width + 1
        let f = fluxTable[d * s + c] - fluxTable[b * s + c] - fluxTable[d * s + a] + fluxTable[b * s + a]
        let n = countTable[d * s + c] - countTable[b * s + c] - countTable[d * s + a] + countTable[b * s + a]
        return (totalFlux > 0 ? f / totalFlux : 0, Int(n))
    }

    /// The same for a box rotated by `angle` about its centre (one pass over the foreground pixels).
    func contents(centerX: Double, centerY: Double, width cw: Double, height ch: Double, angle: Double) -> (share: Double, count: Int) {
        let (c, s) = (cos(angle), sin(angle))
        var f = 0.0, n = 0
        for p in pixels {
            // Pixel centre in the box frame.
            let dx = Double(p.x) + 0.5 - centerX, dy = Double(p.y) + 0.5 - centerY
            let u = c * dx + s * dy, v = -s * dx + c * dy
            if abs(u) <= cw / 2 && abs(v) <= ch / 2 { f += Double(p.w); n += 1 }
        }
        return (totalFlux > 0 ? f / totalFlux : 0, n)
    }

    /// A foreground pixel chosen with `rng` (for the constructive fallback).
    func randomPixel(_ rng: inout Philox4x64) -> (x: Int, y: Int) {
        let p = pixels[Int(rng.next() % UInt64(pixels.count))]
        return (Int(p.x), Int(p.y))
    }
}

import Foundation
