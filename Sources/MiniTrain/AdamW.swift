import Foundation

/// AdamW (Loshchilov & Hutter 2019) as PyTorch's `torch.optim.AdamW` computes it, with DINO's
/// per-tensor gradient-norm clipping (`clip_gradients`) in front: the step both trainers share
/// (`EsViTTrainer` for pre-training, the fine-tuning trainer with a lower rate for the backbone).
///
/// For one tensor with values p, gradient g, moments m, v, at step t (1-based):
///
///     g ← g · min(1, clip / (‖g‖ + 1e-6))        (clip 0: off)
///     p ← p − lr · wd · p                         (decoupled decay; not for biases and 1-D tensors)
///     m ← β₁ m + (1 − β₁) g,  v ← β₂ v + (1 − β₂) g²
///     p ← p − (lr / (1 − β₁ᵗ)) · m / (√v / √(1 − β₂ᵗ) + eps)
public struct AdamW: Sendable, Equatable {
    public var lr: Float
    public var weightDecay: Float
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    /// Per-tensor gradient-norm clip (0: off).
    public var clip: Float

    /// Every value but `eps` comes from the caller's recipe (`EsViTTrainer.Hyper`, `FineTuneRecipe`);
    /// `eps` is PyTorch's, which no recipe changes.
    public init(lr: Float, weightDecay: Float, beta1: Float, beta2: Float, eps: Float = 1e-8, clip: Float) {
        self.lr = lr
        self.weightDecay = weightDecay
        self.beta1 = beta1
        self.beta2 = beta2
        self.eps = eps
        self.clip = clip
    }

    /// Whether AdamW decays this tensor: not biases, not 1-D tensors (DINO's `get_params_groups`).
    public static func decays(_ t: ParameterArena.Tensor) -> Bool { !t.name.hasSuffix(".bias") && t.shape.count > 1 }

    /// Updates tensor `t` of `arena` in place from its gradient (in `arena.grads`) and moments (`arena.m`, `arena.v`).
    /// - Parameters:
    ///   - step: the 1-based step count (bias correction).
    ///   - lrScale: multiplies the learning rate for this tensor (a parameter group's rate; decay scales with it).
    public func update(_ arena: ParameterArena, tensor t: ParameterArena.Tensor, step: Int, lrScale: Float = 1) {
        Self.update(values: arena.values + t.offset, grads: arena.grads + t.offset, m: arena.m + t.offset, v: arena.v + t.offset,
                    count: t.count, step: step, lr: lr * lrScale, weightDecay: Self.decays(t) ? weightDecay : 0,
                    beta1: beta1, beta2: beta2, eps: eps, clip: clip)
    }

    /// `Σ g[i]²` in Double (each square exact), in eight running sums, `i mod 8`, added in a fixed tree at
    /// the end: the same bits on every run and thread count. One running sum waited on each addition (a
    /// quarter of AdamW's time in the default step); the eight sums round differently from it only in the
    /// last bits of a Double, below what the Float norm keeps (the default run's checkpoint is unchanged).
    static func squaredNorm(_ g: UnsafePointer<Float>, _ count: Int) -> Double {
        var acc = SIMD8<Double>()
        var i = 0
        while i + 8 <= count {
            let x = SIMD8<Double>(UnsafeRawPointer(g + i).loadUnaligned(as: SIMD8<Float>.self))
            acc = acc.addingProduct(x, x)
            i += 8
        }
        var norm = ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]))
        while i < count { norm += Double(g[i]) * Double(g[i]); i += 1 }
        return norm
    }

    /// The update of one flat tensor of `count` values (`p`, `g`, `m`, `v` all `[count]`); `g` is read, not changed.
    public static func update(values p: UnsafeMutablePointer<Float>, grads g: UnsafePointer<Float>, m: UnsafeMutablePointer<Float>,
                              v: UnsafeMutablePointer<Float>, count: Int, step: Int, lr: Float, weightDecay: Float,
                              beta1: Float, beta2: Float, eps: Float, clip: Float) {
        let bc1 = 1 - powf(beta1, Float(step)), bc2 = 1 - powf(beta2, Float(step))
        let norm = squaredNorm(g, count)
        let coef = clip / (Float(norm.squareRoot()) + 1e-6)
        let scale: Float = clip > 0 && coef < 1 ? coef : 1  // clip 0: off
        let decay: Float = weightDecay == 0 ? 0 : lr * weightDecay
        // Eight values at a time, each by the same IEEE operations in the same order as one at a time
        // (so the bits do not depend on where a value falls); the last partial group through a copy.
        typealias V8 = SIMD8<Float>
        let (rate, rootBc2) = (V8(repeating: lr / bc1), V8(repeating: bc2.squareRoot()))
        @inline(__always) func update(_ pv: inout V8, _ gv: V8, _ mv: inout V8, _ vv: inout V8) {
            let gi = gv * scale
            pv -= decay * pv
            mv = beta1 * mv + (1 - beta1) * gi
            vv = beta2 * vv + (1 - beta2) * gi * gi
            let denom = (vv.squareRoot() / rootBc2) + eps
            pv -= rate * mv / denom
        }
        @inline(__always) func load(_ x: UnsafePointer<Float>) -> V8 { UnsafeRawPointer(x).loadUnaligned(as: V8.self) }
        @inline(__always) func store(_ x: V8, _ to: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(to).storeBytes(of: x, as: V8.self) }
        var i = 0
        while i + 8 <= count {
            var (pv, mv, vv) = (load(p + i), load(m + i), load(v + i))
            update(&pv, load(g + i), &mv, &vv)
            store(pv, p + i); store(mv, m + i); store(vv, v + i)
            i += 8
        }
        if i < count {
            var (pv, gv, mv, vv) = (V8(), V8(), V8(), V8())
            for j in 0..<(count - i) { (pv[j], gv[j], mv[j], vv[j]) = (p[i + j], g[i + j], m[i + j], v[i + j]) }
            update(&pv, gv, &mv, &vv)
            for j in 0..<(count - i) { (p[i + j], m[i + j], v[i + j]) = (pv[j], mv[j], vv[j]) }
        }
    }
}
