/// A linear head on pooled backbone tokens, for fine-tuning with labels:
/// `out[B, K] = pool_l tokens[B, L, D] · Wᵀ + b`, parameters `head.weight [K, D]` and `head.bias [K]`
/// (K = classes for classification, 1 for regression). The pooling is the network's
/// (`config.pooling`, through `EsViTNetwork.poolWeights`: the mean, or the foreground weights), the one
/// `EsViTNetwork.embed` gives evaluation, so a fine-tuned head sees the features a linear probe sees.
public struct LinearHead: Sendable {
    /// D, the backbone's final width.
    public let inputs: Int
    /// K.
    public let outputs: Int
    public let name: String

    public init(inputs: Int, outputs: Int, name: String = "head") {
        precondition(inputs >= 1 && outputs >= 1, "a head needs inputs and outputs")
        self.inputs = inputs
        self.outputs = outputs
        self.name = name
    }

    public var layout: [(String, [Int])] { [("\(name).weight", [outputs, inputs]), ("\(name).bias", [outputs])] }

    public final class Cache {
        public var batch = 0
        public var tokens = 0
        /// `[B, D]` pooled features.
        public var pooled: [Float] = []
        /// `[B, L]` the foreground pooling's token weights (empty: the mean).
        var weights: [Float] = []
        /// `[B, K]` outputs (logits, or the standardised prediction when K = 1).
        public var outputs: [Float] = []
    }

    /// `tokens [B·L, D]` (image-major, as `SwinBackbone.Cache.tokensOut`) -> outputs `[B, K]`, pooled with
    /// `weights [B, L]` (`EsViTNetwork.poolWeights`; empty: the mean).
    public func forward(_ arena: ParameterArena, tokens: [Float], batch B: Int, tokens L: Int, weights: [Float] = []) -> Cache {
        precondition(weights.isEmpty || weights.count == B * L, "pooling weights for \(B * L) tokens, not \(weights.count)")
        let c = Cache()
        (c.batch, c.tokens, c.weights) = (B, L, weights)
        c.pooled = [Float](repeating: 0, count: B * inputs)
        c.outputs = [Float](repeating: 0, count: B * outputs)
        weights.withUnsafeBufferPointer { w in
            Self.forward(&c.outputs, pooled: &c.pooled, tokens: tokens, weight: arena.value("\(name).weight"), bias: arena.value("\(name).bias"),
                         B: B, L: L, D: inputs, K: outputs, weights: weights.isEmpty ? nil : w.baseAddress)
        }
        return c
    }

    /// Accumulates `head.weight` and `head.bias` gradients into `arena.grads`; returns the gradient of the tokens `[B·L, D]`.
    public func backward(_ arena: ParameterArena, cache c: Cache, doutputs: [Float]) -> [Float] {
        var dtokens = [Float](repeating: 0, count: c.batch * c.tokens * inputs)
        c.weights.withUnsafeBufferPointer { w in
            Self.backward(dtokens: &dtokens, dweight: arena.grad("\(name).weight"), dbias: arena.grad("\(name).bias"), doutputs: doutputs,
                          pooled: c.pooled, weight: arena.value("\(name).weight"), B: c.batch, L: c.tokens, D: inputs, K: outputs,
                          weights: c.weights.isEmpty ? nil : w.baseAddress)
        }
        return dtokens
    }

    /// The kernel: `pooled [B, D] = mean over L of tokens [B, L, D]` (or `Σ_l weights[b, l] · tokens[b, l]`
    /// with foreground `weights [B, L]`), `out [B, K] = pooled · weight[K, D]ᵀ + bias[K]`.
    public static func forward(_ out: UnsafeMutablePointer<Float>, pooled: UnsafeMutablePointer<Float>, tokens: UnsafePointer<Float>,
                               weight: UnsafePointer<Float>, bias: UnsafePointer<Float>, B: Int, L: Int, D: Int, K: Int,
                               weights: UnsafePointer<Float>? = nil) {
        if let weights {
            ForegroundPool.forward(pooled, tokens, weights: weights, B: B, L: L, C: D)
        } else {
            TokenLayout.meanPool(pooled, tokens, B: B, L: L, C: D)
        }
        Linear.forward(out, pooled, weight, bias, N: B, C: D, OC: K)
    }

    /// Accumulates `dtokens [B·L, D] += (dout · W) / L` per token (`· weights[b, l]` with foreground weights),
    /// `dweight [K, D] += doutᵀ · pooled`, `dbias [K] += Σ_rows dout`.
    public static func backward(dtokens: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?, dbias: UnsafeMutablePointer<Float>?,
                                doutputs: UnsafePointer<Float>, pooled: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                B: Int, L: Int, D: Int, K: Int, weights: UnsafePointer<Float>? = nil) {
        var dpooled = [Float](repeating: 0, count: B * D)
        Linear.backward(dinp: &dpooled, dweight: dweight, dbias: dbias, dout: doutputs, inp: pooled, weight: weight, N: B, C: D, OC: K)
        if let weights {
            ForegroundPool.backward(dtokens, dpooled, weights: weights, B: B, L: L, C: D)
        } else {
            TokenLayout.meanPoolBackward(dtokens, dpooled, B: B, L: L, C: D)
        }
    }
}
