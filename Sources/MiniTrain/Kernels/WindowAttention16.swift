/// The window attention of the default shapes, 4 x 4 windows (N = 16 tokens) with 16 channels per
/// head, in `SIMD16<Float>` registers: a score row, an output row and a gradient row are each one
/// vector, so nothing is reduced lane by lane and nothing is stored between the multiply-adds. Same
/// arithmetic as `WindowAttention.forward` / `backward` (which call these), up to summation order.
enum WindowAttention16 {
    typealias V16 = SIMD16<Float>

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> V16 { UnsafeRawPointer(p).loadUnaligned(as: V16.self) }
    @inline(__always) static func store(_ v: V16, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V16.self) }

    /// One window and head. `base` points at the window's `qkv [16, 3C]` row 0 offset by the head
    /// (`+ hh·16`), `bias [16, 16]` holds this head's relative-position bias (plus the shift mask, if
    /// any, in `mask`), `P [16, 16]` receives the probabilities, `out` the head's output rows (stride C).
    /// Four rows at a time, so that four chains of multiply-adds overlap (one row's chain waits on each
    /// multiply-add before the next); each row's sums run in the same order as one row at a time.
    @inline(__always) static func forward(out: UnsafeMutablePointer<Float>, P: UnsafeMutablePointer<Float>, base: UnsafePointer<Float>,
                                          bias: UnsafePointer<Float>, mask: UnsafePointer<Float>?, C: Int, scale: Float,
                                          kt: UnsafeMutablePointer<Float>) {
        let stride = 3 * C
        for j in 0..<16 {
            let k = base + j * stride + C
            for e in 0..<16 { kt[e * 16 + j] = k[e] }
        }
        for i in Swift.stride(from: 0, to: 16, by: 4) {
            let q = base + i * stride
            var (r0, r1, r2, r3) = (load(bias + i * 16), load(bias + i * 16 + 16), load(bias + i * 16 + 32), load(bias + i * 16 + 48))
            if let mask {
                r0 += load(mask + i * 16); r1 += load(mask + i * 16 + 16); r2 += load(mask + i * 16 + 32); r3 += load(mask + i * 16 + 48)
            }
            for e in 0..<16 {
                let k = load(kt + e * 16)
                r0 = r0.addingProduct(q[e] * scale, k)
                r1 = r1.addingProduct(q[stride + e] * scale, k)
                r2 = r2.addingProduct(q[2 * stride + e] * scale, k)
                r3 = r3.addingProduct(q[3 * stride + e] * scale, k)
            }
            softmax(r0, into: P + i * 16)
            softmax(r1, into: P + i * 16 + 16)
            softmax(r2, into: P + i * 16 + 32)
            softmax(r3, into: P + i * 16 + 48)
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

    /// A score row's softmax into `p [16]`.
    @inline(__always) static func softmax(_ row: V16, into p: UnsafeMutablePointer<Float>) {
        let mx = VectorMath.laneMax(row)
        store(row - mx, p)
        for j in 0..<16 { p[j] = FastMath.exp(p[j]) }
        var ex = load(p)
        ex *= 1 / VectorMath.laneSum(ex)
        store(ex, p)
    }

    /// Row `row` of the score gradient from `g = dP_row`: `dS_row = P_row ⊙ (g − P_row · g)`, stored and
    /// added into `dSsum`.
    @inline(__always) static func scoreGradient(_ g: V16, row: Int, P: UnsafePointer<Float>, dS: UnsafeMutablePointer<Float>,
                                                dSsum: UnsafeMutablePointer<Float>) {
        let r = row * 16, p = load(P + r)
        let ds = p * (g - VectorMath.laneSum(g * p))
        store(ds, dS + r)
        store(load(dSsum + r) + ds, dSsum + r)
    }

    /// One window and head of the backward pass: writes the window's `dqkv` columns of this head
    /// (`dbase`, its rows offset by the head: dQ, dK and dV are each computed whole in registers and
    /// stored once, so `dqkv` need not be zeroed) and adds the score gradient `dS [16, 16]` into `dSsum`
    /// (the head's sum over windows, which the caller adds into the bias table once per chunk of
    /// windows instead of 256 scattered additions per window); `dO` is the head's output gradient
    /// (stride C). Four rows at a time, as in `forward`.
    @inline(__always) static func backward(dbase: UnsafeMutablePointer<Float>, dSsum: UnsafeMutablePointer<Float>, dO: UnsafePointer<Float>,
                                           base: UnsafePointer<Float>, P: UnsafePointer<Float>, C: Int, scale: Float,
                                           vt: UnsafeMutablePointer<Float>, dS: UnsafeMutablePointer<Float>) {
        let stride = 3 * C
        for j in 0..<16 {
            let v = base + j * stride + 2 * C
            for e in 0..<16 { vt[e * 16 + j] = v[e] }
        }
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
            scoreGradient(g0, row: i, P: P, dS: dS, dSsum: dSsum)
            scoreGradient(g1, row: i + 1, P: P, dS: dS, dSsum: dSsum)
            scoreGradient(g2, row: i + 2, P: P, dS: dS, dSsum: dSsum)
            scoreGradient(g3, row: i + 3, P: P, dS: dS, dSsum: dSsum)
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
                q0 = q0.addingProduct(g[j] * scale, k)
                q1 = q1.addingProduct(g[16 + j] * scale, k)
                q2 = q2.addingProduct(g[32 + j] * scale, k)
                q3 = q3.addingProduct(g[48 + j] * scale, k)
            }
            let dq = dbase + i * stride
            store(q0, dq); store(q1, dq + stride); store(q2, dq + 2 * stride); store(q3, dq + 3 * stride)
        }
        // dK_j = scale Σ_i dS[i, j] Q_i.
        for j in Swift.stride(from: 0, to: 16, by: 4) {
            var (k0, k1, k2, k3) = (V16(), V16(), V16(), V16())
            for i in 0..<16 {
                let q = load(base + i * stride), g = dS + i * 16 + j
                k0 = k0.addingProduct(g[0] * scale, q)
                k1 = k1.addingProduct(g[1] * scale, q)
                k2 = k2.addingProduct(g[2] * scale, q)
                k3 = k3.addingProduct(g[3] * scale, q)
            }
            let dk = dbase + j * stride + C
            store(k0, dk); store(k1, dk + stride); store(k2, dk + 2 * stride); store(k3, dk + 3 * stride)
        }
    }
}
