import Foundation
import RealModule

/// Multi-head self-attention inside windows, with Swin's relative position bias and shift mask.
///
/// Shapes: `qkv [W, N, 3C]` (W = windows x images, N tokens per window, q | k | v along the last axis,
/// heads split as `[h, d]` with d = C/h), `out [W, N, C]`, `probs [W, h, N, N]` (saved for backward),
/// `table [(2ws−1)², h]`, `index [N, N]` into the table, `mask [nW, N, N]` (window w uses w % nW).
public enum WindowAttention {
    /// Per window and head, scores are built a row at a time as `Σ_e q[i, e] · Kᵀ[e, :]` over a transposed
    /// copy of the head's keys, so the inner loops run over contiguous tokens (vector lanes) instead of
    /// reducing a 16-element dot product per score (the default shape's kernel, `WindowAttention16`, builds
    /// them a column at a time instead); the bias `table[index]` is gathered once per call.
    public static func forward(_ out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
                               table: UnsafePointer<Float>, index: UnsafePointer<Int32>, mask: UnsafePointer<Float>?, windowsPerImage nW: Int,
                               W: Int, N: Int, C: Int, heads h: Int) {
        let d = C / h
        let scale = 1 / Float(d).squareRoot()
        // bias[hh, i, j] = table[index[i, j], hh]; the SIMD16 kernel makes the scores a column at a time and
        // reads the bias transposed (bias[hh, j, i]). The shift mask is its own transpose (`shiftMask`).
        let simd16 = N == 16 && d == 16
        let bias = UnsafeMutablePointer<Float>.allocate(capacity: h * N * N)
        defer { bias.deallocate() }
        for hh in 0..<h {
            for i in 0..<N {
                for j in 0..<N { bias[hh * N * N + (simd16 ? j * N + i : i * N + j)] = table[Int(index[i * N + j]) * h + hh] }
            }
        }
        nonisolated(unsafe) let (out, probs, qkv, mask, biasAll) = (out, probs, qkv, mask, UnsafePointer(bias))
        KernelThreads.forEach(W, minimumPerChunk: 4, cutInvariant: true) { windows in
        // The keys transposed (generic kernel), or the queries transposed and the scores (SIMD16 kernel).
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: max(d * N, simd16 ? 2 * 256 : 0))
        defer { scratch.deallocate() }
        let kt = scratch
        for w in windows {
            let base = qkv + w * N * 3 * C
            let m = mask.map { $0 + (w % nW) * N * N }
            if simd16 {
                for hh in 0..<h {
                    WindowAttention16.forward(out: out + w * N * C + hh * d, P: probs + ((w * h + hh) * N) * N, base: base + hh * d,
                                              biasT: biasAll + hh * N * N, maskT: m, C: C, scale: scale, qt: scratch, st: scratch + 256)
                }
                continue
            }
            for hh in 0..<h {
                for j in 0..<N {
                    let k = base + j * 3 * C + C + hh * d
                    for e in 0..<d { kt[e * N + j] = k[e] }
                }
                let P = probs + ((w * h + hh) * N) * N
                for i in 0..<N {
                    let q = base + i * 3 * C + hh * d
                    let row = P + i * N, b = biasAll + (hh * N + i) * N
                    for j in 0..<N { row[j] = b[j] }
                    if let m { let mr = m + i * N; for j in 0..<N { row[j] += mr[j] } }
                    for e in 0..<d {
                        let qe = q[e] * scale, kr = kt + e * N
                        for j in 0..<N { row[j] = Relaxed.multiplyAdd(qe, kr[j], row[j]) }
                    }
                    var mx = -Float.infinity
                    for j in 0..<N { mx = max(mx, row[j]) }
                    var s: Float = 0
                    for j in 0..<N { let e = FastMath.exp(row[j] - mx); row[j] = e; s += e }
                    let inv = 1 / s
                    for j in 0..<N { row[j] *= inv }
                    let o = out + (w * N + i) * C + hh * d
                    for e in 0..<d { o[e] = 0 }
                    for j in 0..<N {
                        let v = base + j * 3 * C + 2 * C + hh * d, p = row[j]
                        for e in 0..<d { o[e] = Relaxed.multiplyAdd(p, v[e], o[e]) }
                    }
                }
            }
        }
        }
    }

    /// Writes `dqkv [W, N, 3C]` (its old values are not read) and accumulates `dtable` (per window and
    /// head: dP = dO·Vᵀ, dV = Pᵀ·dO, dS = P ⊙ (dP − rowsum(dP ⊙ P)), dQ = scale·dS·K, dK = scale·dSᵀ·Q).
    /// As in forward, dO·Vᵀ runs over a transposed copy of the head's values.
    public static func backward(dqkv: UnsafeMutablePointer<Float>, dtable: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>, index: UnsafePointer<Int32>,
                                W: Int, N: Int, C: Int, heads h: Int) {
        let d = C / h
        let scale = 1 / Float(d).squareRoot()
        // The score gradients per head are shared by all windows (the bias table's gradient): summed per
        // group of `windowGroup` windows (`KernelThreads.blockSums`), then gathered into the table.
        let width = h * N * N
        nonisolated(unsafe) let (dqkv, dout, qkv, probs) = (dqkv, dout, qkv, probs)
        KernelThreads.blockSums(W, block: windowGroup, width: width, { groupRange, sums in
        let dA = UnsafeMutablePointer<Float>.allocate(capacity: N * N)
        let vt = UnsafeMutablePointer<Float>.allocate(capacity: d * N)
        defer { dA.deallocate(); vt.deallocate() }
        for group in groupRange {
        let dSsum = sums + group * width
        for w in (group * windowGroup)..<min(W, (group + 1) * windowGroup) {
            let base = qkv + w * N * 3 * C, dbase = dqkv + w * N * 3 * C
            if N == 16 && d == 16 {
                for hh in 0..<h {
                    WindowAttention16.backward(dbase: dbase + hh * d, dSsum: dSsum + hh * 256, dO: dout + w * N * C + hh * d, base: base + hh * d,
                                               P: probs + ((w * h + hh) * N) * N, C: C, scale: scale, vt: vt, dS: dA)
                }
                continue
            }
            for r in 0..<N { (dbase + r * 3 * C).update(repeating: 0, count: 3 * C) }  // accumulated below
            for hh in 0..<h {
                for j in 0..<N {
                    let v = base + j * 3 * C + 2 * C + hh * d
                    for e in 0..<d { vt[e * N + j] = v[e] }
                }
                let P = probs + ((w * h + hh) * N) * N
                for i in 0..<N {
                    let dO = dout + (w * N + i) * C + hh * d
                    let p = P + i * N, g = dA + i * N
                    for j in 0..<N { g[j] = 0 }
                    for e in 0..<d {
                        let de = dO[e], vr = vt + e * N
                        for j in 0..<N { g[j] = Relaxed.multiplyAdd(de, vr[j], g[j]) }
                    }
                    for j in 0..<N {
                        let dv = dbase + j * 3 * C + 2 * C + hh * d, pj = p[j]
                        for e in 0..<d { dv[e] = Relaxed.multiplyAdd(pj, dO[e], dv[e]) }
                    }
                    var rowsum: Float = 0
                    for j in 0..<N { rowsum = Relaxed.multiplyAdd(g[j], p[j], rowsum) }
                    for j in 0..<N { g[j] = p[j] * (g[j] - rowsum) }
                }
                for i in 0..<N {
                    let q = base + i * 3 * C + hh * d, dq = dbase + i * 3 * C + hh * d
                    for j in 0..<N {
                        let g = dA[i * N + j]
                        dSsum[hh * N * N + i * N + j] += g
                        let k = base + j * 3 * C + C + hh * d, dk = dbase + j * 3 * C + C + hh * d
                        let gs = g * scale
                        for e in 0..<d { dq[e] = Relaxed.multiplyAdd(gs, k[e], dq[e]) }
                        for e in 0..<d { dk[e] = Relaxed.multiplyAdd(gs, q[e], dk[e]) }
                    }
                }
            }
        }
        }
        }, total: { sum in for hh in 0..<h { for ij in 0..<(N * N) { dtable[Int(index[ij]) * h + hh] += sum[hh * N * N + ij] } } })
    }

    /// Windows per group of the bias table's gradient sums in `backward` (a 64 px crop's first stage has 256).
    static let windowGroup = 16

    /// Relative position index for a `ws x ws` window into a table built for windows of `tableWindow`
    /// (`idx = (Δy + T − 1)(2T − 1) + (Δx + T − 1)`, T = tableWindow ≥ ws: smaller windows use a subset).
    public static func relativeIndex(ws: Int, tableWindow T: Int) -> [Int32] {
        let N = ws * ws
        var idx = [Int32](repeating: 0, count: N * N)
        for i in 0..<N {
            for j in 0..<N {
                let dy = i / ws - j / ws, dx = i % ws - j % ws
                idx[i * N + j] = Int32((dy + T - 1) * (2 * T - 1) + (dx + T - 1))
            }
        }
        return idx
    }

    /// Swin's shift mask for an `H x W` map with window `ws` and shift `s`: `[nW, N, N]`, 0 between tokens
    /// of the same region of the rolled map and −100 otherwise: symmetric in the two tokens, so each
    /// window's `[N, N]` is its own transpose (the SIMD16 kernel reads it by columns).
    public static func shiftMask(H: Int, W: Int, ws: Int, shift s: Int) -> [Float] {
        func region(_ v: Int, _ n: Int) -> Int { v < n - ws ? 0 : (v < n - s ? 1 : 2) }
        let nH = H / ws, nWw = W / ws, N = ws * ws
        var mask = [Float](repeating: 0, count: nH * nWw * N * N)
        for wy in 0..<nH {
            for wx in 0..<nWw {
                let w = wy * nWw + wx
                var labels = [Int](repeating: 0, count: N)
                for t in 0..<N { labels[t] = 3 * region(wy * ws + t / ws, H) + region(wx * ws + t % ws, W) }
                for i in 0..<N { for j in 0..<N where labels[i] != labels[j] { mask[(w * N + i) * N + j] = -100 } }
            }
        }
        return mask
    }
}
