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
    @inline(__always) static func forward(out: UnsafeMutablePointer<Float>, P: UnsafeMutablePointer<Float>, base: UnsafePointer<Float>,
                                          bias: UnsafePointer<Float>, mask: UnsafePointer<Float>?, C: Int, scale: Float,
                                          kt: UnsafeMutablePointer<Float>) {
        let stride = 3 * C
        for j in 0..<16 {
            let k = base + j * stride + C
            for e in 0..<16 { kt[e * 16 + j] = k[e] }
        }
        for i in 0..<16 {
            let q = base + i * stride
            var row = load(bias + i * 16)
            if let mask { row += load(mask + i * 16) }
            for e in 0..<16 { row = row.addingProduct(q[e] * scale, load(kt + e * 16)) }
            let mx = VectorMath.laneMax(row)
            let p = P + i * 16
            store(row - mx, p)
            for j in 0..<16 { p[j] = FastMath.exp(p[j]) }
            var ex = load(p)
            ex *= 1 / VectorMath.laneSum(ex)
            store(ex, p)
            var o = V16()
            for j in 0..<16 { o = o.addingProduct(p[j], load(base + j * stride + 2 * C)) }
            store(o, out + i * C)
        }
    }

    /// One window and head of the backward pass: writes the window's `dqkv` columns of this head
    /// (`dbase`, its rows offset by the head: dQ, dK and dV are each computed whole in registers and
    /// stored once, so `dqkv` need not be zeroed) and adds the score gradient `dS [16, 16]` into `dSsum`
    /// (the head's sum over windows, which the caller adds into the bias table once per chunk of
    /// windows instead of 256 scattered additions per window); `dO` is the head's output gradient
    /// (stride C).
    @inline(__always) static func backward(dbase: UnsafeMutablePointer<Float>, dSsum: UnsafeMutablePointer<Float>, dO: UnsafePointer<Float>,
                                           base: UnsafePointer<Float>, P: UnsafePointer<Float>, C: Int, scale: Float,
                                           vt: UnsafeMutablePointer<Float>, dS: UnsafeMutablePointer<Float>) {
        let stride = 3 * C
        for j in 0..<16 {
            let v = base + j * stride + 2 * C
            for e in 0..<16 { vt[e * 16 + j] = v[e] }
        }
        for i in 0..<16 {
            let dOi = dO + i * C
            var g = V16()
            for e in 0..<16 { g = g.addingProduct(dOi[e], load(vt + e * 16)) }
            let p = load(P + i * 16)
            let rowsum = VectorMath.laneSum(g * p)
            let ds = p * (g - rowsum)
            store(ds, dS + i * 16)
            store(load(dSsum + i * 16) + ds, dSsum + i * 16)
        }
        // dV_j = Σ_i P[i, j] dO_i.
        for j in 0..<16 {
            var dv = V16()
            for i in 0..<16 { dv = dv.addingProduct(P[i * 16 + j], load(dO + i * C)) }
            store(dv, dbase + j * stride + 2 * C)
        }
        for i in 0..<16 {
            var dq = V16()
            for j in 0..<16 { dq = dq.addingProduct(dS[i * 16 + j] * scale, load(base + j * stride + C)) }
            store(dq, dbase + i * stride)
        }
        for j in 0..<16 {
            var dk = V16()
            for i in 0..<16 { dk = dk.addingProduct(dS[i * 16 + j] * scale, load(base + i * stride)) }
            store(dk, dbase + j * stride + C)
        }
    }
}
