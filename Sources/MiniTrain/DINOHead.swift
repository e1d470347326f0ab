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

    /// One pass's activations (what backward reads) and its input gradient. Given back to `forward`
    /// (`reusing`), a cache of the same rows is refilled in place: a training step after the first
    /// allocates none of them (the trainer keeps one per lane, pass and head, `EsViTTrainer.LaneMemory`).
    public final class Cache {
        var input: [Float] = [], s1: [Float] = [], g1: [Float] = [], s2: [Float] = [], g2: [Float] = []
        var z: [Float] = [], norms: [Float] = [], weight: [Float] = [], vnorm: [Float] = []
        var rows = 0
        /// `[M, K]` logits.
        public var logits: [Float] = []
        /// `[M, D]`: the gradient of the input, after `backward`.
        public internal(set) var dinput: [Float] = []

        public init() {}

        /// The buffers' base addresses (for the test that a refilled cache keeps its memory).
        var bufferAddresses: [Int] {
            [s1, g1, s2, g2, z, norms, weight, vnorm, logits, dinput].map { x in x.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }
        }
    }

    /// The working buffers of a pass that nothing reads after it (forward's pre-activations, backward's
    /// gradients between the layers), shared by every head pass of a lane (the trainer keeps one per
    /// lane) and sized by the largest (SwinBackbone's `WorkingBuffers` do the same for the blocks).
    public final class Scratch {
        var h: [Float] = [], h3: [Float] = [], dz: [Float] = [], dW: [Float] = [], dh3: [Float] = []
        var dh2: [Float] = [], dh1: [Float] = []

        public init() {}

        var bufferAddresses: [Int] {
            [h, h3, dz, dW, dh3, dh2, dh1].map { x in x.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }
        }
    }

    /// `input [M, D]` -> logits `[M, K]`. `reusing`: an earlier cache whose buffers this pass refills;
    /// `scratch`: working buffers to use (nil: new ones).
    public func forward(_ arena: ParameterArena, input: [Float], rows M: Int, reusing old: Cache? = nil, scratch: Scratch? = nil) -> Cache {
        let (D, H, Bn, K) = (config.finalDim, config.hidden, config.bottleneck, config.outDim)
        precondition(arena.count >= end, "the arena holds \(arena.count) floats, the head \(name) ends at \(end)")
        let c = old ?? Cache(), w = scratch ?? Scratch()
        c.rows = M
        c.input = input
        SwinBackbone.atLeast(&w.h, M * H)
        SwinBackbone.atLeast(&w.h3, M * Bn)
        SwinBackbone.fit(&c.g1, M * H)
        SwinBackbone.fit(&c.s1, M * H)
        SwinBackbone.fit(&c.g2, M * H)
        SwinBackbone.fit(&c.s2, M * H)
        SwinBackbone.fit(&c.z, M * Bn)
        SwinBackbone.fit(&c.norms, M)
        SwinBackbone.fit(&c.weight, K * Bn)
        SwinBackbone.fit(&c.vnorm, K)
        SwinBackbone.fit(&c.logits, M * K)
        Linear.forward(&w.h, input, arena.values + w0, arena.values + b0, N: M, C: D, OC: H)
        GELU.forward(&c.g1, slope: &c.s1, w.h, count: M * H)
        Linear.forward(&w.h, c.g1, arena.values + w2, arena.values + b2, N: M, C: H, OC: H)
        GELU.forward(&c.g2, slope: &c.s2, w.h, count: M * H)
        Linear.forward(&w.h3, c.g2, arena.values + w4, arena.values + b4, N: M, C: H, OC: Bn)
        L2Normalize.forward(&c.z, norms: &c.norms, w.h3, N: M, C: Bn)
        WeightNorm.forward(weight: &c.weight, vnorm: &c.vnorm, g: arena.values + g,
                           v: arena.values + v, K: K, D: Bn)
        Linear.forward(&c.logits, c.z, c.weight, nil, N: M, C: Bn, OC: K)
        return c
    }

    /// Accumulates parameter gradients; leaves the gradient of the input `[M, D]` in `c.dinput`.
    /// - Parameters:
    ///   - trainG: whether `weight_g` gets a gradient (false: norm_last_layer, g frozen at 1).
    ///   - scratch: working buffers to use (nil: new ones).
    public func backward(_ arena: ParameterArena, cache c: Cache, dlogits: [Float], trainG: Bool = false, scratch: Scratch? = nil) {
        let (D, H, Bn, K) = (config.finalDim, config.hidden, config.bottleneck, config.outDim)
        let M = c.rows, w = scratch ?? Scratch()
        precondition(arena.count >= end, "the arena holds \(arena.count) floats, the head \(name) ends at \(end)")
        // Every gradient is written whole by the first kernel that fills it, but dz and dW, which the
        // last layer's backward accumulates into.
        SwinBackbone.zeroedAtLeast(&w.dz, M * Bn)
        SwinBackbone.zeroedAtLeast(&w.dW, K * Bn)
        SwinBackbone.zeroedAtLeast(&w.dh3, M * Bn)
        SwinBackbone.atLeast(&w.dh2, M * H)
        SwinBackbone.atLeast(&w.dh1, M * H)
        SwinBackbone.fit(&c.dinput, M * D)
        Linear.backward(dinp: &w.dz, dweight: &w.dW, dbias: nil, dout: dlogits, inp: c.z, weight: c.weight, N: M, C: Bn, OC: K)
        WeightNorm.backward(dv: arena.grads + v, dg: trainG ? arena.grads + g : nil,
                            dweight: w.dW, g: arena.values + g, v: arena.values + v,
                            vnorm: c.vnorm, K: K, D: Bn)
        L2Normalize.backward(dinp: &w.dh3, dout: w.dz, out: c.z, norms: c.norms, N: M, C: Bn)
        // Each GELU's backward is its slope, applied by the product that makes the gradient of its output.
        Linear.backward(dinp: &w.dh2, dweight: arena.grads + w4, dbias: arena.grads + b4, dout: w.dh3, inp: c.g2,
                        weight: arena.values + w4, N: M, C: H, OC: Bn, accumulateInput: false, inputScale: c.s2)
        Linear.backward(dinp: &w.dh1, dweight: arena.grads + w2, dbias: arena.grads + b2, dout: w.dh2, inp: c.g1,
                        weight: arena.values + w2, N: M, C: H, OC: H, accumulateInput: false, inputScale: c.s1)
        Linear.backward(dinp: &c.dinput, dweight: arena.grads + w0, dbias: arena.grads + b0, dout: w.dh1, inp: c.input,
                        weight: arena.values + w0, N: M, C: D, OC: H, accumulateInput: false)
    }
}
