/// L2 normalisation of rows, `y = x / max(‖x‖, eps)`, and the weight-normalised linear layer
/// `W_k = g_k v_k / ‖v_k‖` of the DINO head.
public enum L2Normalize {
    /// Saves `norms [N]` for the backward pass.
    public static func forward(_ out: UnsafeMutablePointer<Float>, norms: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>,
                               N: Int, C: Int, eps: Float = 1e-12) {
        for r in 0..<N {
            let x = inp + r * C, y = out + r * C
            var s: Double = 0
            for i in 0..<C { s += Double(x[i]) * Double(x[i]) }
            let n = max(Float(s.squareRoot()), eps)
            for i in 0..<C { y[i] = x[i] / n }
            norms[r] = n
        }
    }

    /// Accumulates `dinp += (dout − y ⟨y, dout⟩) / ‖x‖` (for ‖x‖ > eps).
    public static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, out: UnsafePointer<Float>,
                                norms: UnsafePointer<Float>, N: Int, C: Int) {
        for r in 0..<N {
            let g = dout + r * C, y = out + r * C, dx = dinp + r * C
            var dot: Float = 0
            for i in 0..<C { dot += y[i] * g[i] }
            let inv = 1 / norms[r]
            for i in 0..<C { dx[i] += (g[i] - y[i] * dot) * inv }
        }
    }
}

public enum WeightNorm {
    /// `weight [K, D] = g[k] · v[k] / ‖v[k]‖`; saves `vnorm [K]`.
    public static func forward(weight: UnsafeMutablePointer<Float>, vnorm: UnsafeMutablePointer<Float>, g: UnsafePointer<Float>,
                               v: UnsafePointer<Float>, K: Int, D: Int) {
        for k in 0..<K {
            let row = v + k * D
            var s: Double = 0
            for i in 0..<D { s += Double(row[i]) * Double(row[i]) }
            let n = Float(s.squareRoot())
            vnorm[k] = n
            for i in 0..<D { weight[k * D + i] = g[k] * row[i] / n }
        }
    }

    /// From `dweight [K, D]`, accumulates `dv` and (unless nil: g frozen) `dg`: per row,
    /// with `v̂ = v / ‖v‖` and `w = g v̂`, `dv += (g / ‖v‖)(dw − v̂ (v̂ · dw))` and `dg += v̂ · dw`.
    public static func backward(dv: UnsafeMutablePointer<Float>, dg: UnsafeMutablePointer<Float>?, dweight: UnsafePointer<Float>,
                                g: UnsafePointer<Float>, v: UnsafePointer<Float>, vnorm: UnsafePointer<Float>, K: Int, D: Int) {
        for k in 0..<K {
            let n = vnorm[k], row = v + k * D, gw = dweight + k * D
            var dgk: Float = 0
            for i in 0..<D { dgk += gw[i] * row[i] / n }
            dg?[k] += dgk
            for i in 0..<D { dv[k * D + i] += g[k] / n * (gw[i] - row[i] / n * dgk) }
        }
    }
}
