import Cropping
import LensData
import RealModule

/// Turns a crop geometry and a plan into output pixels, one channel plane at a time.
enum ViewRenderer {
    /// Resamples the crop of one `[H, W]` plane into `out` (`[S, S]`): for an axis-aligned crop,
    /// separable area averaging when shrinking and bilinear interpolation when growing; for a rotated
    /// crop, bilinear samples (k x k per output pixel when shrinking by k or more).
    static func resample(_ src: UnsafeBufferPointer<Float>, width W: Int, height H: Int, crop g: CropGeometry, size S: Int,
                         into out: UnsafeMutableBufferPointer<Float>) {
        if g.angle == 0 {
            let x0 = Int((g.centerX - g.width / 2).rounded()), y0 = Int((g.centerY - g.height / 2).rounded())
            let cols = Taps(start: x0, length: Int(g.width), size: S, extent: W)
            let rows = Taps(start: y0, length: Int(g.height), size: S, extent: H)
            // Horizontal pass over the rows the vertical pass needs, then vertical.
            let rowLo = rows.lowest, rowHi = rows.highest
            withUnsafeTemporaryAllocation(of: Float.self, capacity: (rowHi - rowLo + 1) * S) { t in
                cols.first.withUnsafeBufferPointer { first in cols.index.withUnsafeBufferPointer { index in
                cols.weight.withUnsafeBufferPointer { weight in
                    // The taps through pointers, not three bounds-checked arrays per tap (the resample's perf
                    // samples in a training run 0.59% -> 0.34% of the run's).
                    for y in rowLo...rowHi {
                        let line = src.baseAddress! + y * W, dst = t.baseAddress! + (y - rowLo) * S
                        for x in 0..<S {
                            var v: Float = 0
                            for k in first[x]..<first[x + 1] { v += weight[k] * line[index[k]] }
                            dst[x] = v
                        }
                    }
                } } }
                for y in 0..<S {
                    let dst = out.baseAddress! + y * S
                    for x in 0..<S { dst[x] = 0 }
                    for k in rows.first[y]..<rows.first[y + 1] {
                        let line = t.baseAddress! + (rows.index[k] - rowLo) * S, w = rows.weight[k]
                        for x in 0..<S { dst[x] += w * line[x] }
                    }
                }
            }
            return
        }
        let step = g.width / Double(S), stepY = g.height / Double(S)
        let k = max(1, Int((max(step, stepY)).rounded(.down)))
        let (c, s) = (Double.cos(g.angle), Double.sin(g.angle))
        @inline(__always) func bilinear(_ x: Double, _ y: Double) -> Float {
            let fx = min(max(x - 0.5, 0), Double(W - 1)), fy = min(max(y - 0.5, 0), Double(H - 1))
            let ix = min(Int(fx), W - 2 < 0 ? 0 : W - 2), iy = min(Int(fy), H - 2 < 0 ? 0 : H - 2)
            let tx = Float(fx - Double(ix)), ty = Float(fy - Double(iy))
            let x1 = min(ix + 1, W - 1), y1 = min(iy + 1, H - 1)
            let a = src[iy * W + ix], b = src[iy * W + x1], cc = src[y1 * W + ix], d = src[y1 * W + x1]
            return (a * (1 - tx) + b * tx) * (1 - ty) + (cc * (1 - tx) + d * tx) * ty
        }
        for oy in 0..<S {
            for ox in 0..<S {
                var sum: Float = 0
                for sy in 0..<k {
                    for sx in 0..<k {
                        // Sample point in the crop frame, relative to the centre.
                        let u = (Double(ox) + (Double(sx) + 0.5) / Double(k)) * step - g.width / 2
                        let v = (Double(oy) + (Double(sy) + 0.5) / Double(k)) * stepY - g.height / 2
                        sum += bilinear(g.centerX + c * u - s * v, g.centerY + s * u + c * v)
                    }
                }
                out[oy * S + ox] = sum / Float(k * k)
            }
        }
    }

    /// Per output index along one axis, the source indices and weights, in flat arrays: taps of output
    /// `o` are `first[o]..<first[o + 1]`. Exact area overlap when the crop is at least as long as the
    /// output; two-tap linear interpolation (half-pixel centres, clamped to the crop) when shorter.
    struct Taps {
        var first: [Int] = [0]
        var index: [Int] = []
        var weight: [Float] = []
        var lowest: Int { index.min() ?? 0 }
        var highest: Int { index.max() ?? 0 }

        init(start: Int, length: Int, size: Int, extent: Int) {
            let scale = Double(length) / Double(size)
            index.reserveCapacity(size * (Int(scale) + 2))
            weight.reserveCapacity(size * (Int(scale) + 2))
            first.reserveCapacity(size + 1)
            for o in 0..<size {
                if scale >= 1 {
                    let a = Double(o) * scale, b = a + scale
                    var i = Int(a.rounded(.down))
                    while Double(i) < b - 1e-12 {
                        let w = min(b, Double(i + 1)) - max(a, Double(i))
                        if w > 0 { index.append(min(max(start + i, 0), extent - 1)); weight.append(Float(w / scale)) }
                        i += 1
                    }
                } else {
                    let f = min(max((Double(o) + 0.5) * scale - 0.5, 0), Double(length - 1))
                    let i = min(Int(f), max(length - 2, 0)), t = Float(f - Double(i))
                    index.append(min(max(start + i, 0), extent - 1))
                    weight.append(1 - t)
                    if t != 0 {
                        index.append(min(max(start + min(i + 1, length - 1), 0), extent - 1))
                        weight.append(t)
                    }
                }
                first.append(index.count)
            }
        }
    }

    /// Applies dihedral element `d` (see `ViewPlan.dihedral`) to an `[S, S]` plane.
    static func dihedral(_ d: Int, _ p: UnsafeMutableBufferPointer<Float>, size S: Int) {
        guard d != 0 else { return }
        withUnsafeTemporaryAllocation(of: Float.self, capacity: S * S) { copy in
        _ = copy.initialize(from: p)
        // out(y, x) = in(sy, sx); along an output row the source moves by a fixed step, so each row is one
        // strided read from `start(y)` (no case analysis per pixel: the copy's perf samples in a training
        // run 0.22% -> 0.11% of the run's).
        //   1: (x, S−1−y) rotate 90° counter-clockwise   2: (S−1−y, S−1−x) 180°   3: (S−1−x, y) 270°
        //   4: (y, S−1−x) mirror left-right   5: (S−1−y, x) vertical flip   6: (x, y) transpose
        //   7: (S−1−x, S−1−y) anti-transpose
        let last = S - 1
        let (step, start): (Int, (Int) -> Int)
        switch d {
        case 1: (step, start) = (S, { last - $0 })
        case 2: (step, start) = (-1, { (last - $0) * S + last })
        case 3: (step, start) = (-S, { last * S + $0 })
        case 4: (step, start) = (-1, { $0 * S + last })
        case 5: (step, start) = (1, { (last - $0) * S })
        case 6: (step, start) = (S, { $0 })
        default: (step, start) = (-S, { last * S + last - $0 })
        }
        let src = copy.baseAddress!, dst = p.baseAddress!
        for y in 0..<S {
            let row = dst + y * S
            var i = start(y)
            for x in 0..<S { row[x] = src[i]; i += step }
        }
        }
    }

    /// In-place separable Gaussian blur of an `[S, S]` plane (kernel radius ceil(3 sigma), weights
    /// renormalised at the borders), using one stack temporary.
    static func blur(_ p: UnsafeMutableBufferPointer<Float>, size S: Int, sigma: Float) {
        let radius = min(max(1, Int((3 * sigma).rounded(.up))), S - 1)
        withUnsafeTemporaryAllocation(of: Float.self, capacity: 2 * radius + 1 + S * S) { scratch in
            let k = scratch.baseAddress!, t = scratch.baseAddress! + 2 * radius + 1
            for d in -radius...radius { k[d + radius] = Float.exp(-Float(d * d) / (2 * sigma * sigma)) }
            // Horizontal into t (tap by tap, so the inner loops vectorise), vertical back into p.
            withUnsafeTemporaryAllocation(of: Float.self, capacity: S) { coverage in
                for x in 0..<S {
                    var w: Float = 0
                    for d in max(-radius, -x)...min(radius, S - 1 - x) { w += k[d + radius] }
                    coverage[x] = 1 / w
                }
                for y in 0..<S {
                    let row = p.baseAddress! + y * S, dst = t + y * S
                    for x in 0..<S { dst[x] = 0 }
                    for d in -radius...radius {
                        let kw = k[d + radius], lo = max(0, -d), hi = min(S, S - d)
                        guard lo < hi else { continue }
                        let from = row + d
                        for x in lo..<hi { dst[x] += kw * from[x] }
                    }
                    for x in 0..<S { dst[x] *= coverage[x] }
                }
            }
            for y in 0..<S {
                let dst = p.baseAddress! + y * S
                var w: Float = 0
                for d in max(-radius, -y)...min(radius, S - 1 - y) { w += k[d + radius] }
                for x in 0..<S { dst[x] = 0 }
                for d in max(-radius, -y)...min(radius, S - 1 - y) {
                    let src = t + (y + d) * S, kw = k[d + radius] / w
                    for x in 0..<S { dst[x] += kw * src[x] }
                }
            }
        }
    }

    /// The photometric part of a plan, on one `[S, S]` plane. `sigma` is the image's noise sigma per
    /// channel; `counts` says whether Poisson re-noising applies.
    static func photometric(_ plan: ViewPlan, spec: ViewSpec, _ p: UnsafeMutableBufferPointer<Float>, size S: Int,
                            sigma: Float, counts: Bool, _ rng: inout Philox4x64) {
        if let sigmaBlur = plan.blurSigma, sigmaBlur > 0.05 { blur(p, size: S, sigma: sigmaBlur) }
        if let f = plan.fluxFactor { for i in 0..<p.count { p[i] *= f } }
        if let gain = plan.poissonGain, counts {
            for i in 0..<p.count { p[i] = Float(rng.poisson(Double(max(p[i], 0) * gain))) / gain }
        }
        if let level = plan.noiseLevel, level > 0, sigma > 0 {
            let s = level * sigma
            var i = 0
            while i < p.count {
                let (a, b) = rng.normalPairFloat()
                p[i] += a * s
                if i + 1 < p.count { p[i + 1] += b * s }
                i += 2
            }
        }
        if let b = plan.brightness, let c = plan.contrast {
            var mean: Float = 0
            for v in p { mean += v }
            mean /= Float(p.count)
            let shift = b * max(sigma, 1e-6)
            for i in 0..<p.count { p[i] = (p[i] - mean) * c + mean + shift }
        }
        if plan.solarize {
            var lo = Float.infinity, hi = -Float.infinity
            for v in p { lo = min(lo, v); hi = max(hi, v) }
            let t = lo + Float(spec.solarizeThreshold) * (hi - lo)
            for i in 0..<p.count where p[i] >= t { p[i] = lo + hi - p[i] }
        }
        if let clip = spec.clip { for i in 0..<p.count { p[i] = min(max(p[i], clip[0]), clip[1]) } }
    }
}
