import Foundation
import RealModule

/// GELU, `y = x Φ(x) = ½ x (1 + erf(x / √2))`, by `FastMath.gelu` (within 3e-6 of the exact value,
/// vectorised): the same function in training (with slopes) and inference (without).
public enum GELU {
    /// Inference: values only.
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
        nonisolated(unsafe) let (o, xs) = (out, inp)
        KernelThreads.forEach(count, minimumPerChunk: 4096, cutInvariant: true) { r in
            for i in r { o[i] = FastMath.gelu(xs[i]).value }
        }
    }

    /// Forward that also stores the derivative `Φ(x) + x φ(x)` in `slope`, so that backward is one
    /// multiply, which the product making the output's gradient applies as it stores it
    /// (`Linear.backward(inputScale:)`), and erf/exp run once per element.
    public static func forward(_ out: UnsafeMutablePointer<Float>, slope: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, count: Int) {
        nonisolated(unsafe) let (o, sl, xs) = (out, slope, inp)
        KernelThreads.forEach(count, minimumPerChunk: 4096, cutInvariant: true) { r in
            for i in r {
                let (value, slope) = FastMath.gelu(xs[i])
                o[i] = value
                sl[i] = slope
            }
        }
    }
}

/// Row-wise softmax with a temperature, `[N, K]`.
public enum Softmax {
    /// `out = softmax((inp − shift) / temperature)` per row; `shift [K]` optional (the DINO centre).
    /// Rows are split over `KernelThreads`.
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, shift: UnsafePointer<Float>? = nil,
                               temperature: Float, N: Int, K: Int) {
        let invT = 1 / temperature
        nonisolated(unsafe) let (out, inp, shift) = (out, inp, shift)
        KernelThreads.forEach(N, minimumPerChunk: 64) { rows in
            for r in rows {
                let x = inp + r * K, y = out + r * K
                if let shift { for k in 0..<K { y[k] = (x[k] - shift[k]) * invT } } else { for k in 0..<K { y[k] = x[k] * invT } }
                let mx = VectorMath.max(y, K)
                for k in 0..<K { y[k] = FastMath.exp(y[k] - mx) }
                let inv = 1 / VectorMath.sum(y, K)
                for k in 0..<K { y[k] *= inv }
            }
        }
    }
}

/// Soft-target cross-entropy: `L = −Σ_k q_k log softmax(s / τ)_k` per row, and its gradient.
public enum SoftCrossEntropy {
    /// One student row `s [K]` against several targets `q_t [K]` with a single softmax (the EsViT
    /// loss pairs every student crop with each teacher global crop other than itself): returns
    /// `Σ_t weight · L_t`, `L_t = −Σ_k q_t,k log p_k`, `p = softmax(s / τ)`, and accumulates
    /// `ds += weight/τ · Σ_t (p − q_t)` when `dstudent` is given.
    ///
    /// With `lse` the log-sum-exp of `s / τ`, `log p_k = s_k/τ − lse`, so `L_t = lse · Σ_k q_t,k − Σ_k
    /// q_t,k s_k / τ`: one exponential per logit whatever the number of targets, and no logarithm per
    /// logit. `scratch` holds `K` floats. `q_t` receives no gradient.
    public static func forwardBackward(dstudent: UnsafeMutablePointer<Float>?, student s: UnsafePointer<Float>,
                                       targets: UnsafeBufferPointer<UnsafePointer<Float>>, temperature: Float, weight: Float, K: Int,
                                       scratch e: UnsafeMutablePointer<Float>) -> Double {
        let invT = 1 / temperature
        for k in 0..<K { e[k] = s[k] * invT }
        let mx = VectorMath.max(e, K)
        for k in 0..<K { e[k] = FastMath.exp(e[k] - mx) }
        let sum = VectorMath.sum(e, K)
        let lse = Double(mx) + log(Double(sum))
        var total = 0.0
        for q in targets {
            let qs = Double(VectorMath.dot(q, s, K)) * Double(invT)
            total += Double(weight) * (lse * Double(VectorMath.sum(q, K)) - qs)
        }
        if let d = dstudent {
            let wT = weight * invT
            let pScale = wT * Float(targets.count) / sum
            for k in 0..<K { d[k] = Relaxed.multiplyAdd(pScale, e[k], d[k]) }
            for q in targets { for k in 0..<K { d[k] = Relaxed.multiplyAdd(-wT, q[k], d[k]) } }
        }
        return total
    }
}
