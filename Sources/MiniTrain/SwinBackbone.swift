/// The Swin backbone: patch embedding, stages of (shifted) window blocks with patch merging between
/// them, and a final LayerNorm. Forward keeps what backward needs in a `SwinBackbone.Cache`.
public struct SwinBackbone: Sendable {
    public let config: EsViTConfig
    /// Where every tensor sits in an arena, resolved once from `layout` (no name look-ups per step).
    let offsets: Offsets

    public init(config: EsViTConfig) {
        self.config = config
        offsets = Offsets(config: config, layout: Self.layout(config))
    }

    /// The offsets of one block's tensors in an arena's `values` and `grads`.
    struct BlockOffsets: Sendable {
        var norm1Weight, norm1Bias, table, qkvWeight, qkvBias, projWeight, projBias: Int
        var norm2Weight, norm2Bias, fc1Weight, fc1Bias, fc2Weight, fc2Bias: Int
    }

    /// The offsets of a patch merging's tensors.
    struct MergeOffsets: Sendable {
        var normWeight, normBias, reduction: Int
    }

    /// The offsets of every backbone tensor in an arena whose first tensors are `layout`, in order
    /// (`EsViTNetwork.makeArena` and the fine-tuning arena put the backbone first).
    struct Offsets: Sendable {
        var embedWeight, embedBias, embedNormWeight, embedNormBias, normWeight, normBias: Int
        /// `[stage][block]`.
        var blocks: [[BlockOffsets]]
        /// One per stage but the last.
        var merges: [MergeOffsets]
        /// Floats in the backbone's tensors.
        var count: Int

        init(config c: EsViTConfig, layout: [(String, [Int])]) {
            var at: [String: Int] = [:], next = 0
            for (name, shape) in layout { at[name] = next; next += shape.reduce(1, *) }
            func o(_ name: String) -> Int { at[name]! }
            (embedWeight, embedBias) = (o("patch_embed.proj.weight"), o("patch_embed.proj.bias"))
            (embedNormWeight, embedNormBias) = (o("patch_embed.norm.weight"), o("patch_embed.norm.bias"))
            (normWeight, normBias) = (o("norm.weight"), o("norm.bias"))
            blocks = (0..<c.stages).map { i in
                (0..<c.depths[i]).map { j in
                    let p = "layers.\(i).blocks.\(j)."
                    return BlockOffsets(norm1Weight: o(p + "norm1.weight"), norm1Bias: o(p + "norm1.bias"),
                                        table: o(p + "attn.relative_position_bias_table"),
                                        qkvWeight: o(p + "attn.qkv.weight"), qkvBias: o(p + "attn.qkv.bias"),
                                        projWeight: o(p + "attn.proj.weight"), projBias: o(p + "attn.proj.bias"),
                                        norm2Weight: o(p + "norm2.weight"), norm2Bias: o(p + "norm2.bias"),
                                        fc1Weight: o(p + "mlp.fc1.weight"), fc1Bias: o(p + "mlp.fc1.bias"),
                                        fc2Weight: o(p + "mlp.fc2.weight"), fc2Bias: o(p + "mlp.fc2.bias"))
                }
            }
            merges = (0..<(c.stages - 1)).map { i in
                let p = "layers.\(i).downsample."
                return MergeOffsets(normWeight: o(p + "norm.weight"), normBias: o(p + "norm.bias"), reduction: o(p + "reduction.weight"))
            }
            count = next
        }
    }

    /// Checks that `arena` starts with this backbone's tensors (what the offsets assume).
    private func check(_ arena: ParameterArena) {
        precondition(arena.count >= offsets.count && arena.tensors.first?.name == "patch_embed.proj.weight"
                     && arena.tensor("norm.bias").offset == offsets.normBias, "the arena does not start with this backbone's tensors")
    }

    /// Parameter names and shapes, in microsoft/esvit state-dict order.
    public var layout: [(String, [Int])] { Self.layout(config) }

    static func layout(_ c: EsViTConfig) -> [(String, [Int])] {
        var out: [(String, [Int])] = [
            ("patch_embed.proj.weight", [c.dim, c.inChannels, c.patch, c.patch]), ("patch_embed.proj.bias", [c.dim]),
            ("patch_embed.norm.weight", [c.dim]), ("patch_embed.norm.bias", [c.dim]),
        ]
        let table = (2 * c.window - 1) * (2 * c.window - 1)
        for i in 0..<c.stages {
            let C = c.stageDim(i), hid = C * c.mlpRatio
            for j in 0..<c.depths[i] {
                let p = "layers.\(i).blocks.\(j)."
                out += [
                    (p + "norm1.weight", [C]), (p + "norm1.bias", [C]),
                    (p + "attn.relative_position_bias_table", [table, c.heads[i]]),
                    (p + "attn.qkv.weight", [3 * C, C]), (p + "attn.qkv.bias", [3 * C]),
                    (p + "attn.proj.weight", [C, C]), (p + "attn.proj.bias", [C]),
                    (p + "norm2.weight", [C]), (p + "norm2.bias", [C]),
                    (p + "mlp.fc1.weight", [hid, C]), (p + "mlp.fc1.bias", [hid]),
                    (p + "mlp.fc2.weight", [C, hid]), (p + "mlp.fc2.bias", [C]),
                ]
            }
            if i < c.stages - 1 {
                out += [("layers.\(i).downsample.norm.weight", [4 * C]), ("layers.\(i).downsample.norm.bias", [4 * C]),
                        ("layers.\(i).downsample.reduction.weight", [2 * C, 4 * C])]
            }
        }
        out += [("norm.weight", [c.finalDim]), ("norm.bias", [c.finalDim])]
        return out
    }

    /// One block's saved activations. Buffers are `[B·L, ·]`.
    final class BlockCache {
        var input: [Float] = [], ln1: [Float] = [], ln1Mean: [Float] = [], ln1Rstd: [Float] = []
        var windows: [Float] = [], qkv: [Float] = [], probs: [Float] = [], attn: [Float] = []
        var x1: [Float] = [], ln2: [Float] = [], ln2Mean: [Float] = [], ln2Rstd: [Float] = []
        var fc1Slope: [Float] = [], gelu: [Float] = []
        var perm: [Int32] = [], index: [Int32] = [], mask: [Float]? = nil
        var nW = 1, ws = 1, side = 1, C = 1, heads = 1
        let o: BlockOffsets
        init(_ o: BlockOffsets) { self.o = o }

        /// Inference keeps only the attention probabilities (for attention maps): the rest is what
        /// backward would read, freed as soon as the block is done (a smaller peak for the teacher).
        func releaseForInference() {
            (input, ln1, ln1Mean, ln1Rstd, windows, qkv, attn) = ([], [], [], [], [], [], [])
            (x1, ln2, ln2Mean, ln2Rstd, fc1Slope, gelu) = ([], [], [], [], [], [])
        }
    }

    final class MergeCache {
        var input: [Float] = [], gathered: [Float] = [], ln: [Float] = [], mean: [Float] = [], rstd: [Float] = []
        var perm: [Int32] = [], C = 1, side = 1
        let o: MergeOffsets
        init(_ o: MergeOffsets) { self.o = o }
    }

    /// Everything the backward pass needs from one forward pass.
    public final class Cache {
        public var batch = 0
        public var tokens = 0
        var patches: [Float] = [], embed: [Float] = [], embedLN: [Float] = [], embedMean: [Float] = [], embedRstd: [Float] = []
        var blocks: [[BlockCache]] = []
        var merges: [MergeCache] = []
        var finalInput: [Float] = [], finalMean: [Float] = [], finalRstd: [Float] = []
        /// `[B·L0]`: the SimMIM patch mask the forward mixed the mask token in with, and the token's
        /// offset in the arena (empty / nil: no mask).
        var patchMask: [Float] = [], maskToken: Int? = nil
        /// Output tokens after the final LayerNorm, `[B·L, C]` (image-major, tokens row-major).
        public var tokensOut: [Float] = []
        /// The output of stage `i`'s blocks `[B·side², C_i]` (before its patch merging; `i` below the last
        /// stage; a cache made with `forBackward: false` keeps none).
        public func stageOutput(_ i: Int) -> [Float] { merges[i].input }
        /// Attention probabilities of every block, `[windows·B, heads, N, N]` (for attention maps and tests).
        public func attention(stage: Int, block: Int) -> [Float] { blocks[stage][block].probs }
        /// Where `attention`'s windows sit: row `r` of the windows (`[windows·B·N]`, image-major) holds token
        /// `permutation[r]` of the batch's `[B·side·side]` tokens; `side` is the stage's map side, `window`
        /// its window side, `heads` its heads.
        public func attentionLayout(stage: Int, block: Int) -> (permutation: [Int32], side: Int, window: Int, heads: Int) {
            let b = blocks[stage][block]
            return (b.perm, b.side, b.ws, b.heads)
        }
    }

    /// Runs the backbone on `images [B, Cin, S, S]` with parameters from `arena`. With
    /// `forBackward: false` (the teacher, inference) the GELU slopes that only backward reads are not
    /// computed; such a cache cannot be passed to `backward`. `patchMask` (`[B·(S/P)²]`, 1 = masked,
    /// patches row-major per image) replaces those patches' embeddings, after the embedding's LayerNorm,
    /// by the mask token at arena offset `token` (SimMIM, `MaskedImageModeling.mixToken`).
    public func forward(_ arena: ParameterArena, images: [Float], batch B: Int, size S: Int, forBackward: Bool = true,
                        patchMask: (mask: [Float], token: Int)? = nil) -> Cache {
        check(arena)
        let c = config
        let cache = Cache()
        cache.batch = B
        let P = c.patch, side0 = S / P, L0 = side0 * side0
        let patchLen = c.inChannels * P * P
        cache.patches = [Float].uninitialized(B * L0 * patchLen)
        images.withUnsafeBufferPointer { TokenLayout.patches(&cache.patches, $0.baseAddress!, B: B, Cin: c.inChannels, H: S, W: S, P: P) }
        if c.inputScale != 1 { let g = c.inputScale; cache.patches.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] *= g } } }
        cache.embed = [Float].uninitialized(B * L0 * c.dim)
        Linear.forward(&cache.embed, cache.patches, (arena.values + offsets.embedWeight), (arena.values + offsets.embedBias),
                       N: B * L0, C: patchLen, OC: c.dim)
        cache.embedLN = [Float].uninitialized(B * L0 * c.dim)
        cache.embedMean = [Float].uninitialized(B * L0)
        cache.embedRstd = [Float].uninitialized(B * L0)
        LayerNorm.forward(&cache.embedLN, mean: &cache.embedMean, rstd: &cache.embedRstd, cache.embed,
                          (arena.values + offsets.embedNormWeight), (arena.values + offsets.embedNormBias), N: B * L0, C: c.dim, eps: c.layerNormEps)
        if let patchMask {
            precondition(patchMask.mask.count == B * L0, "the patch mask has \(patchMask.mask.count) entries, not \(B * L0)")
            MaskedImageModeling.mixToken(&cache.embedLN, token: arena.values + patchMask.token, mask: patchMask.mask, rows: B * L0, C: c.dim)
            (cache.patchMask, cache.maskToken) = (patchMask.mask, patchMask.token)
        }
        var x = cache.embedLN
        var side = side0
        for i in 0..<c.stages {
            let C = c.stageDim(i)
            var stageBlocks: [BlockCache] = []
            for j in 0..<c.depths[i] {
                let b = BlockCache(offsets.blocks[i][j])
                b.side = side
                b.C = C
                b.heads = c.heads[i]
                b.ws = min(c.window, side)
                let shift = (side <= c.window || j % 2 == 0) ? 0 : c.window / 2
                b.nW = (side / b.ws) * (side / b.ws)
                b.perm = TokenLayout.windowPermutation(B: B, H: side, W: side, ws: b.ws, shift: shift)
                b.index = WindowAttention.relativeIndex(ws: b.ws, tableWindow: c.window)
                b.mask = shift > 0 ? WindowAttention.shiftMask(H: side, W: side, ws: b.ws, shift: shift) : nil
                x = blockForward(arena, b, x, B: B, forBackward: forBackward)
                if !forBackward { b.releaseForInference() }
                stageBlocks.append(b)
            }
            cache.blocks.append(stageBlocks)
            if i < c.stages - 1 {
                let m = MergeCache(offsets.merges[i])
                m.C = C
                m.side = side
                m.input = x
                m.perm = TokenLayout.mergePermutation(B: B, H: side, W: side)
                let rows = B * side * side / 4
                m.gathered = [Float].uninitialized(rows * 4 * C)
                TokenLayout.gather(&m.gathered, x, m.perm, rows: rows * 4, C: C)
                m.ln = [Float].uninitialized(rows * 4 * C)
                m.mean = [Float].uninitialized(rows)
                m.rstd = [Float].uninitialized(rows)
                LayerNorm.forward(&m.ln, mean: &m.mean, rstd: &m.rstd, m.gathered, (arena.values + m.o.normWeight),
                                  (arena.values + m.o.normBias), N: rows, C: 4 * C, eps: c.layerNormEps)
                x = [Float].uninitialized(rows * 2 * C)
                Linear.forward(&x, m.ln, (arena.values + m.o.reduction), nil, N: rows, C: 4 * C, OC: 2 * C)
                if !forBackward { (m.input, m.gathered, m.ln) = ([], [], []) }
                cache.merges.append(m)
                side /= 2
            }
        }
        cache.tokens = side * side
        let rows = B * cache.tokens
        cache.finalInput = x
        cache.tokensOut = [Float].uninitialized(rows * c.finalDim)
        cache.finalMean = [Float].uninitialized(rows)
        cache.finalRstd = [Float].uninitialized(rows)
        LayerNorm.forward(&cache.tokensOut, mean: &cache.finalMean, rstd: &cache.finalRstd, x, (arena.values + offsets.normWeight),
                          (arena.values + offsets.normBias), N: rows, C: c.finalDim, eps: c.layerNormEps)
        if !forBackward { (cache.patches, cache.embed, cache.embedLN, cache.finalInput) = ([], [], [], []) }
        return cache
    }

    private func blockForward(_ arena: ParameterArena, _ b: BlockCache, _ x: [Float], B: Int, forBackward: Bool) -> [Float] {
        let rows = B * b.side * b.side, C = b.C, hid = C * config.mlpRatio, eps = config.layerNormEps
        let (o, v) = (b.o, arena.values)
        b.input = x
        b.ln1 = [Float].uninitialized(rows * C)
        b.ln1Mean = [Float].uninitialized(rows)
        b.ln1Rstd = [Float].uninitialized(rows)
        LayerNorm.forward(&b.ln1, mean: &b.ln1Mean, rstd: &b.ln1Rstd, x, (v + o.norm1Weight), (v + o.norm1Bias), N: rows, C: C, eps: eps)
        b.windows = [Float].uninitialized(rows * C)
        TokenLayout.gather(&b.windows, b.ln1, b.perm, rows: rows, C: C)
        b.qkv = [Float].uninitialized(rows * 3 * C)
        Linear.forward(&b.qkv, b.windows, (v + o.qkvWeight), (v + o.qkvBias), N: rows, C: C, OC: 3 * C)
        let N = b.ws * b.ws, W = rows / N
        b.probs = [Float].uninitialized(W * b.heads * N * N)
        b.attn = [Float].uninitialized(rows * C)
        let mask = b.mask
        mask.withUnsafeBufferPointerIfPresent { m in
            WindowAttention.forward(&b.attn, probs: &b.probs, qkv: b.qkv, table: (v + o.table),
                                    index: b.index, mask: m, windowsPerImage: b.nW, W: W, N: N, C: C, heads: b.heads)
        }
        var proj = [Float].uninitialized(rows * C)
        Linear.forward(&proj, b.attn, (v + o.projWeight), (v + o.projBias), N: rows, C: C, OC: C)
        b.x1 = x
        TokenLayout.scatterAdd(&b.x1, proj, b.perm, rows: rows, C: C)
        b.ln2 = [Float].uninitialized(rows * C)
        b.ln2Mean = [Float].uninitialized(rows)
        b.ln2Rstd = [Float].uninitialized(rows)
        LayerNorm.forward(&b.ln2, mean: &b.ln2Mean, rstd: &b.ln2Rstd, b.x1, (v + o.norm2Weight), (v + o.norm2Bias), N: rows, C: C, eps: eps)
        var fc1 = [Float].uninitialized(rows * hid)
        Linear.forward(&fc1, b.ln2, (v + o.fc1Weight), (v + o.fc1Bias), N: rows, C: C, OC: hid)
        b.gelu = [Float].uninitialized(rows * hid)
        if forBackward {
            b.fc1Slope = [Float].uninitialized(rows * hid)
            GELU.forward(&b.gelu, slope: &b.fc1Slope, fc1, count: rows * hid)
        } else {
            GELU.forward(&b.gelu, fc1, count: rows * hid)
        }
        var out = [Float].uninitialized(rows * C)
        Linear.forward(&out, b.gelu, (v + o.fc2Weight), (v + o.fc2Bias), N: rows, C: hid, OC: C)
        out.withUnsafeMutableBufferPointer { o in b.x1.withUnsafeBufferPointer { x1 in for i in 0..<o.count { o[i] += x1[i] } } }
        return out
    }

    /// Accumulates parameter gradients into `arena.grads` from `dtokens`, the gradient of the final
    /// LayerNorm output `[B·L, C]`.
    /// Accumulates every parameter's gradient from `dtokens`, the gradient of the final tokens, plus
    /// `dstage`, a gradient of one stage's output (`Cache.stageOutput`) from another reader of it (the
    /// two-stage pixel decoder), if given.
    public func backward(_ arena: ParameterArena, cache: Cache, dtokens: [Float], dstage: (stage: Int, grad: [Float])? = nil) {
        check(arena)
        let c = config
        let rows = cache.batch * cache.tokens
        var dx = [Float](repeating: 0, count: rows * c.finalDim)
        LayerNorm.backward(dinp: &dx, dgamma: (arena.grads + offsets.normWeight), dbeta: (arena.grads + offsets.normBias), dout: dtokens,
                           inp: cache.finalInput, gamma: (arena.values + offsets.normWeight), mean: cache.finalMean, rstd: cache.finalRstd, N: rows, C: c.finalDim)
        for i in (0..<c.stages).reversed() {
            if i < c.stages - 1 {
                let m = cache.merges[i]
                let C = m.C, mrows = cache.batch * m.side * m.side / 4
                var dln = [Float](repeating: 0, count: mrows * 4 * C)
                Linear.backward(dinp: &dln, dweight: (arena.grads + m.o.reduction), dbias: nil, dout: dx, inp: m.ln,
                                weight: (arena.values + m.o.reduction), N: mrows, C: 4 * C, OC: 2 * C)
                var dg = [Float](repeating: 0, count: mrows * 4 * C)
                LayerNorm.backward(dinp: &dg, dgamma: (arena.grads + m.o.normWeight), dbeta: (arena.grads + m.o.normBias), dout: dln,
                                   inp: m.gathered, gamma: (arena.values + m.o.normWeight), mean: m.mean, rstd: m.rstd, N: mrows, C: 4 * C)
                dx = [Float](repeating: 0, count: cache.batch * m.side * m.side * C)
                TokenLayout.scatterAdd(&dx, dg, m.perm, rows: mrows * 4, C: C)
                if let dstage, dstage.stage == i {
                    precondition(dstage.grad.count == dx.count, "stage \(i)'s gradient has \(dstage.grad.count) values, not \(dx.count)")
                    for k in dx.indices { dx[k] += dstage.grad[k] }
                }
            }
            for b in cache.blocks[i].reversed() { blockBackward(arena, b, &dx, B: cache.batch) }
        }
        let L0 = cache.batch * (cache.batch > 0 ? cache.embed.count / (cache.batch * c.dim) : 0)
        if let token = cache.maskToken {
            MaskedImageModeling.mixTokenBackward(&dx, dtoken: arena.grads + token, mask: cache.patchMask, rows: L0, C: c.dim)
        }
        var dembed = [Float](repeating: 0, count: L0 * c.dim)
        LayerNorm.backward(dinp: &dembed, dgamma: (arena.grads + offsets.embedNormWeight), dbeta: (arena.grads + offsets.embedNormBias), dout: dx,
                           inp: cache.embed, gamma: (arena.values + offsets.embedNormWeight), mean: cache.embedMean, rstd: cache.embedRstd, N: L0, C: c.dim)
        Linear.backward(dinp: nil, dweight: (arena.grads + offsets.embedWeight), dbias: (arena.grads + offsets.embedBias), dout: dembed,
                        inp: cache.patches, weight: (arena.values + offsets.embedWeight), N: L0, C: c.inChannels * c.patch * c.patch, OC: c.dim)
    }

    /// Replaces `dx`, the gradient of the block's output, by the gradient of its input (in place: each
    /// term of the residual stream accumulates into it, as backward accumulates everywhere).
    private func blockBackward(_ arena: ParameterArena, _ b: BlockCache, _ dx: inout [Float], B: Int) {
        let rows = B * b.side * b.side, C = b.C, hid = C * config.mlpRatio
        let (o, v, g) = (b.o, arena.values, arena.grads)
        // out = x1 + fc2(gelu(fc1(ln2(x1)))): dx becomes d(x1).
        var dgelu = [Float](repeating: 0, count: rows * hid)
        Linear.backward(dinp: &dgelu, dweight: (g + o.fc2Weight), dbias: (g + o.fc2Bias), dout: dx, inp: b.gelu,
                        weight: (v + o.fc2Weight), N: rows, C: hid, OC: C)
        var dfc1 = [Float](repeating: 0, count: rows * hid)
        GELU.backward(dinp: &dfc1, dout: dgelu, slope: b.fc1Slope, count: rows * hid)
        var dln2 = [Float](repeating: 0, count: rows * C)
        Linear.backward(dinp: &dln2, dweight: (g + o.fc1Weight), dbias: (g + o.fc1Bias), dout: dfc1, inp: b.ln2,
                        weight: (v + o.fc1Weight), N: rows, C: C, OC: hid)
        LayerNorm.backward(dinp: &dx, dgamma: (g + o.norm2Weight), dbeta: (g + o.norm2Bias), dout: dln2, inp: b.x1,
                           gamma: (v + o.norm2Weight), mean: b.ln2Mean, rstd: b.ln2Rstd, N: rows, C: C)
        // x1 = x + reverse(proj(attn(qkv(windows(ln1(x)))))): dx becomes d(x).
        var dproj = [Float].uninitialized(rows * C)  // gather overwrites every row
        TokenLayout.gather(&dproj, dx, b.perm, rows: rows, C: C)
        var dattn = [Float](repeating: 0, count: rows * C)
        Linear.backward(dinp: &dattn, dweight: (g + o.projWeight), dbias: (g + o.projBias), dout: dproj, inp: b.attn,
                        weight: (v + o.projWeight), N: rows, C: C, OC: C)
        let N = b.ws * b.ws, W = rows / N
        var dqkv = [Float](repeating: 0, count: rows * 3 * C)
        WindowAttention.backward(dqkv: &dqkv, dtable: (g + o.table), dout: dattn, qkv: b.qkv, probs: b.probs,
                                 index: b.index, W: W, N: N, C: C, heads: b.heads)
        var dwin = [Float](repeating: 0, count: rows * C)
        Linear.backward(dinp: &dwin, dweight: (g + o.qkvWeight), dbias: (g + o.qkvBias), dout: dqkv, inp: b.windows,
                        weight: (v + o.qkvWeight), N: rows, C: C, OC: 3 * C)
        var dln1 = [Float](repeating: 0, count: rows * C)
        TokenLayout.scatterAdd(&dln1, dwin, b.perm, rows: rows, C: C)
        LayerNorm.backward(dinp: &dx, dgamma: (g + o.norm1Weight), dbeta: (g + o.norm1Bias), dout: dln1, inp: b.input,
                           gamma: (v + o.norm1Weight), mean: b.ln1Mean, rstd: b.ln1Rstd, N: rows, C: C)
    }
}

extension Optional where Wrapped == [Float] {
    /// Calls `body` with a pointer to the array, or nil.
    func withUnsafeBufferPointerIfPresent<R>(_ body: (UnsafePointer<Float>?) -> R) -> R {
        switch self {
        case .some(let a): return a.withUnsafeBufferPointer { body($0.baseAddress) }
        case .none: return body(nil)
        }
    }
}
