/// The DINO projection head: Linear-GELU-Linear-GELU-Linear, L2 normalisation, then a weight-normalised
/// linear layer without bias. EsViT has two: `head` (pooled feature) and `head_dense` (every token).
public struct DINOHead: Sendable {
    public let config: EsViTConfig
    /// `head` or `head_dense`.
    public let name: String
    /// Where the head's tensors sit in an arena whose tensors before this head's take `base` floats,
    /// resolved once from `layout` (no name look-ups per pass), in `layout`'s order.
    let w0: Int, b0: Int, w2: Int, b2: Int, w4: Int, b4: Int, g: Int, v: Int
    /// One past the head's last float.
    let end: Int

    public init(config: EsViTConfig, name: String, base: Int) {
        self.config = config
        self.name = name
        let (D, H, Bn, K) = (config.finalDim, config.hidden, config.bottleneck, config.outDim)
        w0 = base
        b0 = w0 + H * D
        w2 = b0 + H
        b2 = w2 + H * H
        w4 = b2 + H
        b4 = w4 + Bn * H
        g = b4 + Bn
        v = g + K
        end = v + K * Bn
    }

    /// The tensors in arena order (the offsets above follow it).
    public var layout: [(String, [Int])] {
        let (D, H, Bn, K) = (config.finalDim, config.hidden, config.bottleneck, config.outDim)
        return [
            ("\(name).mlp.0.weight", [H, D]), ("\(name).mlp.0.bias", [H]),
            ("\(name).mlp.2.weight", [H, H]), ("\(name).mlp.2.bias", [H]),
            ("\(name).mlp.4.weight", [Bn, H]), ("\(name).mlp.4.bias", [Bn]),
            ("\(name).last_layer.weight_g", [K, 1]), ("\(name).last_layer.weight_v", [K, Bn]),
        ]
    }

    public final class Cache {
        var input: [Float] = [], s1: [Float] = [], g1: [Float] = [], s2: [Float] = [], g2: [Float] = []
        var h3: [Float] = [], z: [Float] = [], norms: [Float] = [], weight: [Float] = [], vnorm: [Float] = []
        var rows = 0
        /// `[M, K]` logits.
        public var logits: [Float] = []
    }

    /// `input [M, D]` -> logits `[M, K]`.
    public func forward(_ arena: ParameterArena, input: [Float], rows M: Int) -> Cache {
        let (D, H, Bn, K) = (config.finalDim, config.hidden, config.bottleneck, config.outDim)
        precondition(arena.count >= end, "the arena holds \(arena.count) floats, the head \(name) ends at \(end)")
        let c = Cache()
        c.rows = M
        c.input = input
        var h = [Float].uninitialized(M * H)
        Linear.forward(&h, input, arena.values + w0, arena.values + b0, N: M, C: D, OC: H)
        c.g1 = [Float].uninitialized(M * H)
        c.s1 = [Float].uninitialized(M * H)
        GELU.forward(&c.g1, slope: &c.s1, h, count: M * H)
        Linear.forward(&h, c.g1, arena.values + w2, arena.values + b2, N: M, C: H, OC: H)
        c.g2 = [Float].uninitialized(M * H)
        c.s2 = [Float].uninitialized(M * H)
        GELU.forward(&c.g2, slope: &c.s2, h, count: M * H)
        c.h3 = [Float].uninitialized(M * Bn)
        Linear.forward(&c.h3, c.g2, arena.values + w4, arena.values + b4, N: M, C: H, OC: Bn)
        c.z = [Float].uninitialized(M * Bn)
        c.norms = [Float].uninitialized(M)
        L2Normalize.forward(&c.z, norms: &c.norms, c.h3, N: M, C: Bn)
        c.weight = [Float].uninitialized(K * Bn)
        c.vnorm = [Float].uninitialized(K)
        WeightNorm.forward(weight: &c.weight, vnorm: &c.vnorm, g: arena.values + g,
                           v: arena.values + v, K: K, D: Bn)
        c.logits = [Float].uninitialized(M * K)
        Linear.forward(&c.logits, c.z, c.weight, nil, N: M, C: Bn, OC: K)
        return c
    }

    /// Accumulates parameter gradients; returns the gradient of the input `[M, D]`.
    /// - Parameter trainG: whether `weight_g` gets a gradient (false: norm_last_layer, g frozen at 1).
    public func backward(_ arena: ParameterArena, cache c: Cache, dlogits: [Float], trainG: Bool = false) -> [Float] {
        let (D, H, Bn, K) = (config.finalDim, config.hidden, config.bottleneck, config.outDim)
        let M = c.rows
        precondition(arena.count >= end, "the arena holds \(arena.count) floats, the head \(name) ends at \(end)")
        var dz = [Float](repeating: 0, count: M * Bn), dW = [Float](repeating: 0, count: K * Bn)
        Linear.backward(dinp: &dz, dweight: &dW, dbias: nil, dout: dlogits, inp: c.z, weight: c.weight, N: M, C: Bn, OC: K)
        WeightNorm.backward(dv: arena.grads + v, dg: trainG ? arena.grads + g : nil,
                            dweight: dW, g: arena.values + g, v: arena.values + v,
                            vnorm: c.vnorm, K: K, D: Bn)
        var dh3 = [Float](repeating: 0, count: M * Bn)
        L2Normalize.backward(dinp: &dh3, dout: dz, out: c.z, norms: c.norms, N: M, C: Bn)
        var dg2 = [Float](repeating: 0, count: M * H)
        Linear.backward(dinp: &dg2, dweight: arena.grads + w4, dbias: arena.grads + b4, dout: dh3, inp: c.g2,
                        weight: arena.values + w4, N: M, C: H, OC: Bn)
        var dh2 = [Float](repeating: 0, count: M * H)
        GELU.backward(dinp: &dh2, dout: dg2, slope: c.s2, count: M * H)
        var dg1 = [Float](repeating: 0, count: M * H)
        Linear.backward(dinp: &dg1, dweight: arena.grads + w2, dbias: arena.grads + b2, dout: dh2, inp: c.g1,
                        weight: arena.values + w2, N: M, C: H, OC: H)
        var dh1 = [Float](repeating: 0, count: M * H)
        GELU.backward(dinp: &dh1, dout: dg1, slope: c.s1, count: M * H)
        var dinput = [Float](repeating: 0, count: M * D)
        Linear.backward(dinp: &dinput, dweight: arena.grads + w0, dbias: arena.grads + b0, dout: dh1, inp: c.input,
                        weight: arena.values + w0, N: M, C: D, OC: H)
        return dinput
    }
}
