/// The window attention of the default shapes, 4 x 4 windows (N = 16 tokens) with 16 channels per
/// head, in `SIMD16<Float>` registers: a score row, an output row and a gradient row are each one
/// vector, so nothing is reduced lane by lane and nothing is stored between the multiply-adds. Same
/// arithmetic as `WindowAttention.forward` / `backward` (which call these), up to summation order.
enum WindowAttention16 {
    typealias V16 = SIMD16<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V16 { UnsafeRawPointer(p).loadUnaligned(as: V16.self) }
    @inline(__always) static func store(_ v: V16, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self) }

    /// One window and head. `base` points at the window's `qkv [16, 3C]` row 0 offset by the head
    /// (`+ hh·16`), `biasT [16, 16]` holds this head's relative-position bias transposed, `maskT` the
    /// window's shift mask if any (symmetric, so it is its own transpose), `P [16, 16]` receives the
    /// probabilities (and serves as scratch for the queries' transpose before that), `out` the head's
    /// output rows (stride C); `qt` and `st` are scratch `[16, 16]`.
    ///
    /// The scores are made a column at a time, `S[:, j] = biasᵀ[j] + Σ_e (Q[:, e]·scale) k[j, e]` over a
    /// scaled transposed copy of the queries, so that the softmax of the 16 rows runs down the columns:
    /// its maxima, exps and sums are 16-lane operations on whole columns, with no reduction across the
    /// lanes of a register (a row at a time, those reductions made the attention's forward a chain of
    /// dependent operations). Every value is the one the row-wise softmax gives: the same multiply-adds in
    /// the same order, the sums in `VectorMath.laneSum`'s order. The output rows are then `Σ_j P[i, j] V_j`,
    /// four rows at a time.
    @inline(__always) static func forward(out: UnsafeMutablePointer<Float>, P: UnsafeMutablePointer<Float>, base: UnsafePointer<Float>,
                                          biasT: UnsafePointer<Float>, maskT: UnsafePointer<Float>?, C: Int, scale: Float,
                                          qt: UnsafeMutablePointer<Float>, st: UnsafeMutablePointer<Float>) {
        let stride = 3 * C
        transpose({ load(base + $0 * stride) * scale }, into: qt, scratch: P)
        for j in Swift.stride(from: 0, to: 16, by: 4) {
            var (s0, s1, s2, s3) = (load(biasT + j * 16), load(biasT + j * 16 + 16), load(biasT + j * 16 + 32), load(biasT + j * 16 + 48))
            if let maskT {
                s0 += load(maskT + j * 16); s1 += load(maskT + j * 16 + 16); s2 += load(maskT + j * 16 + 32); s3 += load(maskT + j * 16 + 48)
            }
            let k = base + j * stride + C
            for e in 0..<16 {
                let q = load(qt + e * 16)
                s0 = s0.addingProduct(q, k[e])
                s1 = s1.addingProduct(q, k[stride + e])
                s2 = s2.addingProduct(q, k[2 * stride + e])
                s3 = s3.addingProduct(q, k[3 * stride + e])
            }
            store(s0, st + j * 16); store(s1, st + j * 16 + 16); store(s2, st + j * 16 + 32); store(s3, st + j * 16 + 48)
        }
        // The rows' maxima (exact in any order), then exp(S − max) column by column.
        var mx = load(st)
        for j in 1..<16 { let c = load(st + j * 16); mx = mx.replacing(with: c, where: c .> mx) }
        for j in 0..<16 { store(FastMath.exp(load(st + j * 16) - mx), st + j * 16) }
        // Σ_j in laneSum's order: (j, j+8), then (j, j+4), (j, j+2), (0, 1).
        let sum = columnSum(st)
        let inv = 1 / sum
        transpose({ load(st + $0 * 16) * inv }, into: P, scratch: qt)
        for i in Swift.stride(from: 0, to: 16, by: 4) {
            var (o0, o1, o2, o3) = (V16(), V16(), V16(), V16())
            let p = P + i * 16
            for j in 0..<16 {
                let v = load(base + j * stride + 2 * C)
                o0 = o0.addingProduct(p[j], v)
                o1 = o1.addingProduct(p[16 + j], v)
                o2 = o2.addingProduct(p[32 + j], v)
                o3 = o3.addingProduct(p[48 + j], v)
            }
            store(o0, out + i * C); store(o1, out + (i + 1) * C); store(o2, out + (i + 2) * C); store(o3, out + (i + 3) * C)
        }
    }

    /// `Σ_j c[j]` over the 16 columns `c [16, 16]` (`c[j]` at `c + 16 j`), lane by lane, in the order
    /// `VectorMath.laneSum` adds a row's 16 values: `(c_j + c_{j+8})`, then pairs 4 apart, 2 apart, 1 apart.
    @inline(__always) static func columnSum(_ c: UnsafePointer<Float>) -> V16 {
        @inline(__always) func col(_ j: Int) -> V16 { load(c + j * 16) }
        let a0 = col(0) + col(8), a1 = col(1) + col(9), a2 = col(2) + col(10), a3 = col(3) + col(11)
        let a4 = col(4) + col(12), a5 = col(5) + col(13), a6 = col(6) + col(14), a7 = col(7) + col(15)
        let b0 = a0 + a4, b1 = a1 + a5, b2 = a2 + a6, b3 = a3 + a7
        let c0 = b0 + b2, c1 = b1 + b3
        return c0 + c1
    }

    /// Row `row` of the score gradient from `g = dP_row`: `dS_row = P_row ⊙ (g − P_row · g)`, added into
    /// `dSsum` and stored times `scale` (what dQ and dK multiply each score gradient by: once per value
    /// here, the same product, instead of a scalar multiply and a broadcast at each of its 32 uses).
    @inline(__always) static func scoreGradient(_ g: V16, row: Int, P: UnsafePointer<Float>, dS: UnsafeMutablePointer<Float>,
                                                dSsum: UnsafeMutablePointer<Float>, scale: Float) {
        let r = row * 16, p = load(P + r)
        let ds = p * (g - VectorMath.laneSum(g * p))
        store(ds * scale, dS + r)
        store(load(dSsum + r) + ds, dSsum + r)
    }

    /// `x0 y0 x1 y1 … x7 y7` and `x8 y8 … x15 y15`: the low and high halves of two vectors interleaved.
    @inline(__always) static func zipLow(_ x: V16, _ y: V16) -> V16 {
        V16(x[0], y[0], x[1], y[1], x[2], y[2], x[3], y[3], x[4], y[4], x[5], y[5], x[6], y[6], x[7], y[7])
    }
    @inline(__always) static func zipHigh(_ x: V16, _ y: V16) -> V16 {
        V16(x[8], y[8], x[9], y[9], x[10], y[10], x[11], y[11], x[12], y[12], x[13], y[13], x[14], y[14], x[15], y[15])
    }

    /// Stores the 16 x 16 matrix whose rows are `row(0) … row(15)` transposed into `dst` (rows of 16), in
    /// registers: four rounds that interleave rows k and k + 8 into rows 2k and 2k + 1, each of which
    /// rotates an element's eight index bits (row, lane) by one, so that four swap the row's bits with
    /// the lane's. `scratch` holds the rounds between (256 floats). A scalar transpose stored 256 single
    /// floats, which the whole-row loads after it could not take from the store buffer.
    @inline(__always) static func transpose(_ row: (Int) -> V16, into dst: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>) {
        for k in 0..<8 {
            let (x, y) = (row(k), row(k + 8))
            store(zipLow(x, y), scratch + 32 * k); store(zipHigh(x, y), scratch + 32 * k + 16)
        }
        @inline(__always) func round(_ from: UnsafeMutablePointer<Float>, _ to: UnsafeMutablePointer<Float>) {
            for k in 0..<8 {
                let (x, y) = (load(from + 16 * k), load(from + 16 * (k + 8)))
                store(zipLow(x, y), to + 32 * k); store(zipHigh(x, y), to + 32 * k + 16)
            }
        }
        round(scratch, dst)
        round(dst, scratch)
        round(scratch, dst)
    }

    /// One window and head of the backward pass: writes the window's `dqkv` columns of this head
    /// (`dbase`, its rows offset by the head: dQ, dK and dV are each computed whole in registers and
    /// stored once, so `dqkv` need not be zeroed) and adds the score gradient `dS [16, 16]` into `dSsum`
    /// (the head's sum over windows, which the caller adds into the bias table once per chunk of
    /// windows instead of 256 scattered additions per window); `dO` is the head's output gradient
    /// (stride C). Four rows at a time, as in `forward`. `vt` and `dS` are scratch `[16, 16]`.
    @inline(__always) static func backward(dbase: UnsafeMutablePointer<Float>, dSsum: UnsafeMutablePointer<Float>, dO: UnsafePointer<Float>,
                                           base: UnsafePointer<Float>, P: UnsafePointer<Float>, C: Int, scale: Float,
                                           vt: UnsafeMutablePointer<Float>, dS: UnsafeMutablePointer<Float>) {
        let stride = 3 * C
        transpose({ load(base + $0 * stride + 2 * C) }, into: vt, scratch: dS)
        // dP_i = dO_i Vᵀ, then dS_i = P_i ⊙ (dP_i − P_i · dP_i).
        for i in Swift.stride(from: 0, to: 16, by: 4) {
            let d = dO + i * C
            var (g0, g1, g2, g3) = (V16(), V16(), V16(), V16())
            for e in 0..<16 {
                let v = load(vt + e * 16)
                g0 = g0.addingProduct(d[e], v)
                g1 = g1.addingProduct(d[C + e], v)
                g2 = g2.addingProduct(d[2 * C + e], v)
                g3 = g3.addingProduct(d[3 * C + e], v)
            }
            scoreGradient(g0, row: i, P: P, dS: dS, dSsum: dSsum, scale: scale)
            scoreGradient(g1, row: i + 1, P: P, dS: dS, dSsum: dSsum, scale: scale)
            scoreGradient(g2, row: i + 2, P: P, dS: dS, dSsum: dSsum, scale: scale)
            scoreGradient(g3, row: i + 3, P: P, dS: dS, dSsum: dSsum, scale: scale)
        }
        // dV_j = Σ_i P[i, j] dO_i.
        for j in Swift.stride(from: 0, to: 16, by: 4) {
            var (v0, v1, v2, v3) = (V16(), V16(), V16(), V16())
            for i in 0..<16 {
                let d = load(dO + i * C), p = P + i * 16 + j
                v0 = v0.addingProduct(p[0], d)
                v1 = v1.addingProduct(p[1], d)
                v2 = v2.addingProduct(p[2], d)
                v3 = v3.addingProduct(p[3], d)
            }
            let dv = dbase + j * stride + 2 * C
            store(v0, dv); store(v1, dv + stride); store(v2, dv + 2 * stride); store(v3, dv + 3 * stride)
        }
        // dQ_i = scale Σ_j dS[i, j] K_j.
        for i in Swift.stride(from: 0, to: 16, by: 4) {
            var (q0, q1, q2, q3) = (V16(), V16(), V16(), V16())
            let g = dS + i * 16
            for j in 0..<16 {
                let k = load(base + j * stride + C)
                q0 = q0.addingProduct(g[j], k)
                q1 = q1.addingProduct(g[16 + j], k)
                q2 = q2.addingProduct(g[32 + j], k)
                q3 = q3.addingProduct(g[48 + j], k)
            }
            let dq = dbase + i * stride
            store(q0, dq); store(q1, dq + stride); store(q2, dq + 2 * stride); store(q3, dq + 3 * stride)
        }
        // dK_j = scale Σ_i dS[i, j] Q_i.
        for j in Swift.stride(from: 0, to: 16, by: 4) {
            var (k0, k1, k2, k3) = (V16(), V16(), V16(), V16())
            for i in 0..<16 {
                let q = load(base + i * stride), g = dS + i * 16 + j
                k0 = k0.addingProduct(g[0], q)
                k1 = k1.addingProduct(g[1], q)
                k2 = k2.addingProduct(g[2], q)
                k3 = k3.addingProduct(g[3], q)
            }
            let dk = dbase + j * stride + C
            store(k0, dk); store(k1, dk + stride); store(k2, dk + 2 * stride); store(k3, dk + 3 * stride)
        }
    }
}
