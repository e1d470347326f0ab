import LensData

/// Where the lens is: the pixels above background + k sigma that belong to it.
public struct Foreground: Sendable {
    public var width: Int
    public var height: Int
    /// `[H, W]`, true for lens pixels.
    public var mask: [Bool]
    /// Bounding box of the mask, `[x0, y0, x1, y1)`; nil when the foreground is empty.
    public var box: PixelBox?
    /// Flux-weighted centroid (x, y) of the mask in pixel coordinates; the image centre when empty.
    public var centroidX: Float
    public var centroidY: Float
    /// Share of all pixels that are foreground.
    public var pixelFraction: Float
    /// Sum of (pixel - background) over the mask.
    public var flux: Float
    public var background: BackgroundEstimate
    public var isEmpty: Bool { box == nil }
}

/// A half-open pixel rectangle `[x0, x1) x [y0, y1)`.
public struct PixelBox: Sendable, Equatable, Codable {
    public var x0: Int, y0: Int, x1: Int, y1: Int
    public init(x0: Int, y0: Int, x1: Int, y1: Int) { self.x0 = x0; self.y0 = y0; self.x1 = x1; self.y1 = y1 }
    public var width: Int { x1 - x0 }
    public var height: Int { y1 - y0 }
    public var array: [Int] { [x0, y0, x1, y1] }
}

/// Finds the foreground of an image: smooth, threshold at background + k sigma, label 8-connected
/// components, keep the lens (the brightest significant component and those carrying a real share
/// of the flux), drop noise blobs. A component is significant when it reaches background + seedK
/// sigma somewhere, covers `minArea` pixels and has an integrated S/N of at least `minSignificance`.
public struct ForegroundDetector: Sendable {
    public var config: CropConfig

    public init(config: CropConfig) { self.config = config }

    /// - Parameter plane: `[H, W]` (the channel sum for C > 1).
    public func detect(plane: [Float], width: Int, height: Int) -> Foreground {
        let n = width * height
        let raw = BackgroundEstimate(pixels: plane)
        var work = plane
        if raw.nonfinite > 0 { for i in work.indices where !work[i].isFinite { work[i] = raw.level } }
        let empty = Foreground(width: width, height: height, mask: [Bool](repeating: false, count: n), box: nil,
                               centroidX: Float(width - 1) / 2, centroidY: Float(height - 1) / 2, pixelFraction: 0, flux: 0,
                               background: raw)
        // A noiseless image on a flat sky has sigma 0; then anything clearly above the sky is signal,
        // so use a floor of 1e-4 of the image's dynamic range.
        var peak = raw.level
        work.withUnsafeBufferPointer { w in for v in w { peak = Swift.max(peak, v) } }
        guard peak > raw.level else { return empty }

        // Detection runs on a binned copy (b x b sums); `level` and `sigma` scale with it.
        let b = config.detectionBinning ?? (Swift.min(width, height) >= 96 ? 2 : 1)
        let (bw, bh) = (width / b, height / b)
        let binned = b == 1 ? work : Binning.sum(work, width: width, height: height, factor: b)
        let binnedLevel = raw.level * Float(b * b)
        let floor = (peak - raw.level) * 1e-4 * Float(b * b)
        // Noise of a binned pixel for the significance cut: white-noise scaling (sigma x b). Correlated
        // sky noise makes this an underestimate, which the wide margin of `minSignificance` absorbs
        // (noise blobs stay below 10, arcs score in the hundreds).
        let sigmaRaw = Swift.max(raw.sigma * Float(b), floor)
        let smoothing = config.smoothing / Float(b)
        let smoothed = smoothing > 0.25 ? GaussianBlur.apply(binned, width: bw, height: bh, sigma: smoothing) : binned
        // The threshold's noise is measured on the image actually thresholded.
        let smoothBackground = smoothing > 0.25 || b > 1 ? BackgroundEstimate(pixels: smoothed)
                                                          : BackgroundEstimate(level: raw.level, sigma: raw.sigma, nonfinite: 0)
        let sigmaSmooth = Swift.max(smoothBackground.sigma, floor)
        let low = smoothBackground.level + config.k * sigmaSmooth
        let seed = smoothBackground.level + config.seedK * sigmaSmooth
        let labels = ConnectedComponents.label(smoothed, width: bw, height: bh, above: low)
        guard labels.count > 0 else { return empty }

        // Per component: area (binned pixels), flux above background, whether it reaches the seed level.
        var area = [Int](repeating: 0, count: labels.count + 1)
        var flux = [Float](repeating: 0, count: labels.count + 1)
        var seeded = [Bool](repeating: false, count: labels.count + 1)
        labels.map.withUnsafeBufferPointer { map in
            binned.withUnsafeBufferPointer { w in
                smoothed.withUnsafeBufferPointer { sm in
                    area.withUnsafeMutableBufferPointer { area in
                        flux.withUnsafeMutableBufferPointer { flux in
                            seeded.withUnsafeMutableBufferPointer { seeded in
                                for i in 0..<(bw * bh) {
                                    let l = Int(map[i])
                                    guard l > 0 else { continue }
                                    area[l] += 1
                                    flux[l] += w[i] - binnedLevel
                                    if sm[i] >= seed { seeded[l] = true }
                                }
                            }
                        }
                    }
                }
            }
        }
        let minArea = Swift.max(1, config.minArea / (b * b))
        let significant = (1...labels.count).filter { l in
            seeded[l] && area[l] >= minArea && flux[l] >= config.minSignificance * sigmaRaw * Float(area[l]).squareRoot()
        }
        guard let brightest = significant.max(by: { flux[$0] < flux[$1] }), flux[brightest] > 0 else { return empty }
        let total = significant.reduce(Float(0)) { $0 + max(flux[$1], 0) }
        var keep = [Bool](repeating: false, count: labels.count + 1)
        for l in significant where l == brightest || flux[l] >= config.minFluxShare * total { keep[l] = true }

        // Full-resolution mask: each kept binned pixel covers a b x b block (a leftover edge row or
        // column joins its neighbouring block). Column -> bin is tabulated: no division per pixel.
        let keptBin = labels.map.map { keep[Int($0)] }
        let binOfColumn = (0..<width).map { Swift.min($0 / b, bw - 1) }
        var mask = [Bool](repeating: false, count: n)
        var x0 = width, y0 = height, x1 = 0, y1 = 0
        // Double sums: Float ones overflow on extreme inputs (3e38 x 20k pixels) and gave NaN centroids.
        var sw: Double = 0, sx: Double = 0, sy: Double = 0, fgFlux: Double = 0, count = 0
        keptBin.withUnsafeBufferPointer { kept in
            binOfColumn.withUnsafeBufferPointer { column in
            work.withUnsafeBufferPointer { w in
                mask.withUnsafeMutableBufferPointer { m in
                    for y in 0..<height {
                        let keptRow = kept.baseAddress! + Swift.min(y / b, bh - 1) * bw
                        var rowW: Double = 0, rowX: Double = 0
                        for x in 0..<width {
                            guard keptRow[column[x]] else { continue }
                            let i = y * width + x
                            m[i] = true
                            count += 1
                            x0 = Swift.min(x0, x); x1 = Swift.max(x1, x + 1); y0 = Swift.min(y0, y); y1 = y + 1
                            let v = Double(w[i]) - Double(raw.level)
                            let wt = Swift.max(v, 0)
                            rowW += wt
                            rowX += wt * Double(x)
                            fgFlux += v
                        }
                        sw += rowW; sx += rowX; sy += rowW * Double(y)
                    }
                }
            }
            }
        }
        var cx = Float(sx / sw), cy = Float(sy / sw)
        if !(sw > 0 && cx.isFinite && cy.isFinite) { (cx, cy) = (Float(x0 + x1 - 1) / 2, Float(y0 + y1 - 1) / 2) }
        return Foreground(width: width, height: height, mask: mask, box: PixelBox(x0: x0, y0: y0, x1: x1, y1: y1),
                          centroidX: cx, centroidY: cy, pixelFraction: Float(count) / Float(n),
                          flux: Float(fgFlux), background: raw)
    }
}

/// Summing b x b blocks (the last partial row/column of blocks is dropped).
enum Binning {
    static func sum(_ input: [Float], width: Int, height: Int, factor b: Int) -> [Float] {
        let (bw, bh) = (width / b, height / b)
        var out = [Float](repeating: 0, count: bw * bh)
        input.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for y in 0..<(bh * b) {
                    let row = src.baseAddress! + y * width
                    let target = dst.baseAddress! + (y / b) * bw
                    for bx in 0..<bw {
                        var s: Float = 0
                        for k in 0..<b { s += row[bx &* b &+ k] }
                        target[bx] += s
                    }
                }
            }
        }
        return out
    }
}
