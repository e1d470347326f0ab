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

    public init(image: LensImage, detector: ForegroundDetector) {
        let plane = image.channelSum()
        let fg = detector.detect(plane: plane, width: image.width, height: image.height)
        let (w, h) = (image.width, image.height)
        width = w
        height = h
        background = fg.background.level
        sigma = fg.background.sigma
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
                if fg.mask[i] {
                    let v = max(plane[i] - fg.background.level, 0)
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
