import Foundation
import RealModule

/// Multi-head self-attention inside windows, with Swin's relative position bias and shift mask.
///
/// Shapes: `qkv [W, N, 3C]` (W = windows x images, N tokens per window, q | k | v along the last axis,
/// heads split as `[h, d]` with d = C/h), `out [W, N, C]`, `probs [W, h, N, N]` (saved for backward),
/// `table [(2ws−1)², h]`, `index [N, N]` into the table, `mask [nW, N, N]` (window w uses w % nW).
public enum WindowAttention {
    public static func forward(_ out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>, qkv: UnsafePointer<Float>,
                               table: UnsafePointer<Float>, index: UnsafePointer<Int32>, mask: UnsafePointer<Float>?, windowsPerImage nW: Int,
                               W: Int, N: Int, C: Int, heads h: Int) {
        let d = C / h
        let scale = 1 / Float(d).squareRoot()
        nonisolated(unsafe) let (out, probs, qkv, table, index, mask) = (out, probs, qkv, table, index, mask)
        KernelThreads.forEach(W, minimumPerChunk: 4) { windows in
        for w in windows {
            let base = qkv + w * N * 3 * C
            let m = mask.map { $0 + (w % nW) * N * N }
            for hh in 0..<h {
                let P = probs + ((w * h + hh) * N) * N
                for i in 0..<N {
                    let q = base + i * 3 * C + hh * d
                    var mx = -Float.infinity
                    for j in 0..<N {
                        let k = base + j * 3 * C + C + hh * d
                        var dot: Float = 0
                        for e in 0..<d { dot = Relaxed.multiplyAdd(q[e], k[e], dot) }
                        var a = dot * scale + table[Int(index[i * N + j]) * h + hh]
                        if let m { a += m[i * N + j] }
                        P[i * N + j] = a
                        mx = max(mx, a)
                    }
                    var s: Float = 0
                    for j in 0..<N { let e = FastMath.exp(P[i * N + j] - mx); P[i * N + j] = e; s += e }
                    let inv = 1 / s
                    for j in 0..<N { P[i * N + j] *= inv }
                    let o = out + (w * N + i) * C + hh * d
                    for e in 0..<d { o[e] = 0 }
                    for j in 0..<N {
                        let v = base + j * 3 * C + 2 * C + hh * d, p = P[i * N + j]
                        for e in 0..<d { o[e] += p * v[e] }
                    }
                }
            }
        }
        }
    }

    /// Accumulates `dqkv [W, N, 3C]` and `dtable` (§4.2 of the notes).
    public static func backward(dqkv: UnsafeMutablePointer<Float>, dtable: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>,
                                qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>, index: UnsafePointer<Int32>,
                                W: Int, N: Int, C: Int, heads h: Int) {
        let d = C / h
        let scale = 1 / Float(d).squareRoot()
        let tableCount = Int((0..<(N * N)).map { index[$0] }.max()! + 1) * h
        nonisolated(unsafe) let (dqkv, dout, qkv, probs, index) = (dqkv, dout, qkv, probs, index)
        // The bias table is shared by all windows: each chunk accumulates its own copy.
        KernelThreads.forEachAccumulating(W, width: tableCount, into: dtable, minimumPerChunk: 4) { windows, dtable in
        let dA = UnsafeMutablePointer<Float>.allocate(capacity: N * N)
        defer { dA.deallocate() }
        for w in windows {
            let base = qkv + w * N * 3 * C, dbase = dqkv + w * N * 3 * C
            for hh in 0..<h {
                let P = probs + ((w * h + hh) * N) * N
                for i in 0..<N {
                    let dO = dout + (w * N + i) * C + hh * d
                    var rowsum: Float = 0
                    for j in 0..<N {
                        let v = base + j * 3 * C + 2 * C + hh * d
                        let dv = dbase + j * 3 * C + 2 * C + hh * d
                        var dp: Float = 0
                        let p = P[i * N + j]
                        for e in 0..<d { dp = Relaxed.multiplyAdd(dO[e], v[e], dp) }
                        for e in 0..<d { dv[e] += p * dO[e] }
                        dA[i * N + j] = dp
                        rowsum += dp * p
                    }
                    for j in 0..<N { dA[i * N + j] = P[i * N + j] * (dA[i * N + j] - rowsum) }
                }
                for i in 0..<N {
                    let q = base + i * 3 * C + hh * d, dq = dbase + i * 3 * C + hh * d
                    for j in 0..<N {
                        let g = dA[i * N + j]
                        dtable[Int(index[i * N + j]) * h + hh] += g
                        let k = base + j * 3 * C + C + hh * d, dk = dbase + j * 3 * C + C + hh * d
                        let gs = g * scale
                        for e in 0..<d { dq[e] += gs * k[e] }
                        for e in 0..<d { dk[e] += gs * q[e] }
                    }
                }
            }
        }
        }
    }

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
    /// of the same region of the rolled map and −100 otherwise.
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
