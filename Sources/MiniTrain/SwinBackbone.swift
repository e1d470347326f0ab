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

    /// One block's saved activations. Buffers are `[B·L, ·]`; `input` is the buffer the block read (the
    /// previous block's `output`, a merge's, or the embedding's), held for backward, not a copy.
    final class BlockCache {
        var input: [Float] = [], ln1Mean: [Float] = [], ln1Rstd: [Float] = []
        var windows: [Float] = [], qkv: [Float] = [], probs: [Float] = [], attn: [Float] = []
        var x1: [Float] = [], ln2: [Float] = [], ln2Mean: [Float] = [], ln2Rstd: [Float] = []
        var fc1Slope: [Float] = [], gelu: [Float] = [], output: [Float] = []
        /// The window layout, computed once per cache.
        var perm: [Int32] = [], index: [Int32] = [], mask: [Float]? = nil
        /// `perm`'s inverse: token row t sits at window row `windowRow[t]`.
        var windowRow: [Int32] = []
        var nW = 1, ws = 1, side = 1, C = 1, heads = 1
        let o: BlockOffsets
        init(_ o: BlockOffsets) { self.o = o }

        /// Inference keeps only the attention probabilities (for attention maps) and the output (the
        /// next block's input): the rest is what backward would read, freed as soon as the block is done.
        func releaseForInference() {
            (input, ln1Mean, ln1Rstd, windows, qkv, attn) = ([], [], [], [], [], [])
            (x1, ln2, ln2Mean, ln2Rstd, fc1Slope, gelu) = ([], [], [], [], [], [])
        }
    }

    final class MergeCache {
        var input: [Float] = [], gathered: [Float] = [], ln: [Float] = [], mean: [Float] = [], rstd: [Float] = [], output: [Float] = []
        var perm: [Int32] = [], C = 1, side = 1
        let o: MergeOffsets
        init(_ o: MergeOffsets) { self.o = o }
    }

    /// The gradient of one stage's tokens `[B·side², C]`, replaced block by block (backward runs in place).
    final class StageGradient {
        var dx: [Float] = []
    }

    /// The working buffers every block of every stage shares, sized for the largest stage (kernels take
    /// the count): the forward's temporaries that backward does not read (the attention projection, fc1
    /// before the GELU), and backward's.
    final class WorkingBuffers {
        var proj: [Float] = [], fc1: [Float] = []
        var dfc1: [Float] = [], dln2: [Float] = [], dproj: [Float] = [], dattn: [Float] = []
        var dqkv: [Float] = [], dwin: [Float] = []
        /// The patch merging after the stage: gradients of its LayerNorm output and of its gathered input.
        var dmergeLN: [Float] = [], dmergeIn: [Float] = []
    }

    /// Everything the backward pass needs from one forward pass, and the step memory: a cache passed
    /// back to `forward(reusing:)` for the same batch, size and pass keeps its buffers and window
    /// layouts, so a training step allocates no activation after the first (llm.c's one arena, kept
    /// as one set of buffers per lane and crop size).
    public final class Cache {
        public var batch = 0
        public var tokens = 0
        /// The crop side and the pass (`forBackward`) the buffers were sized for.
        var size = 0, forBackward = true
        var patches: [Float] = [], embed: [Float] = [], embedLN: [Float] = [], embedMean: [Float] = [], embedRstd: [Float] = []
        var blocks: [[BlockCache]] = []
        var merges: [MergeCache] = []
        var finalInput: [Float] = [], finalMean: [Float] = [], finalRstd: [Float] = []
        /// `[B·L0]`: the SimMIM patch mask the forward mixed the mask token in with, and the token's
        /// offset in the arena (empty / nil: no mask).
        var patchMask: [Float] = [], maskToken: Int? = nil
        /// Backward's buffers, one per stage, and the embedding's gradient.
        var gradients: [StageGradient] = []
        /// The working buffers every stage shares (sized for the largest; only the gradient is per stage).
        let scratch = WorkingBuffers()
        var dembed: [Float] = []
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

        /// The identities of the activation buffers (their base addresses), for tests that a reused
        /// cache keeps its memory.
        public var bufferAddresses: [Int] {
            func a(_ x: [Float]) -> Int { x.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }
            var out = [a(patches), a(embed), a(embedLN), a(tokensOut), a(finalMean), a(dembed)]
            for stage in blocks { for b in stage { out += [a(b.windows), a(b.qkv), a(b.probs), a(b.x1), a(b.gelu), a(b.output)] } }
            for m in merges { out += [a(m.gathered), a(m.ln), a(m.output)] }
            for g in gradients { out.append(a(g.dx)) }
            let s = scratch
            out += [a(s.proj), a(s.fc1), a(s.dfc1), a(s.dln2), a(s.dproj), a(s.dattn), a(s.dqkv), a(s.dwin),
                    a(s.dmergeLN), a(s.dmergeIn)]
            return out
        }

        /// Drops the references to buffers that other fields own (a block's input is the buffer before
        /// it), so that refilling those buffers writes in place instead of copying them.
        func dropAliases() {
            for stage in blocks { for b in stage { b.input = [] } }
            for m in merges { m.input = [] }
            finalInput = []
        }
    }

    /// Sets `buffer` to `count` values, keeping its memory when it already holds that many (contents
    /// left as they are: every caller overwrites, or `zeroed` clears).
    @inline(__always) static func fit(_ buffer: inout [Float], _ count: Int) {
        if buffer.count != count { buffer = .uninitialized(count) }
    }

    /// At least `count` values (a buffer the stages share, sized by the largest; kernels take the count).
    @inline(__always) static func atLeast(_ buffer: inout [Float], _ count: Int) {
        if buffer.count < count { buffer = .uninitialized(count) }
    }

    /// `atLeast`, then the first `count` values 0.
    @inline(__always) static func zeroedAtLeast(_ buffer: inout [Float], _ count: Int) {
        atLeast(&buffer, count)
        buffer.withUnsafeMutableBufferPointer { $0.baseAddress!.update(repeating: 0, count: count) }
    }

    /// `fit`, then every value 0 (for the gradients that kernels accumulate into).
    @inline(__always) static func zeroed(_ buffer: inout [Float], _ count: Int) {
        fit(&buffer, count)
        buffer.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
    }

    /// A new cache laid out for `B` crops of `S x S`: the blocks' window permutations, relative indices
    /// and shift masks, and the merges' permutations, computed here once.
    func makeCache(batch B: Int, size S: Int, forBackward: Bool) -> Cache {
        let c = config
        let cache = Cache()
        (cache.batch, cache.size, cache.forBackward) = (B, S, forBackward)
        var side = S / c.patch
        for i in 0..<c.stages {
            cache.blocks.append((0..<c.depths[i]).map { j in
                let b = BlockCache(offsets.blocks[i][j])
                (b.side, b.C, b.heads, b.ws) = (side, c.stageDim(i), c.heads[i], min(c.window, side))
                let shift = (side <= c.window || j % 2 == 0) ? 0 : c.window / 2
                b.nW = (side / b.ws) * (side / b.ws)
                b.perm = TokenLayout.windowPermutation(B: B, H: side, W: side, ws: b.ws, shift: shift)
                b.windowRow = [Int32](repeating: 0, count: b.perm.count)
                for (row, token) in b.perm.enumerated() { b.windowRow[Int(token)] = Int32(row) }
                b.index = WindowAttention.relativeIndex(ws: b.ws, tableWindow: c.window)
                b.mask = shift > 0 ? WindowAttention.shiftMask(H: side, W: side, ws: b.ws, shift: shift) : nil
                return b
            })
            if i < c.stages - 1 {
                let m = MergeCache(offsets.merges[i])
                (m.C, m.side) = (c.stageDim(i), side)
                m.perm = TokenLayout.mergePermutation(B: B, H: side, W: side)
                cache.merges.append(m)
                side /= 2
            }
            cache.gradients.append(StageGradient())
        }
        cache.tokens = side * side
        return cache
    }

    /// Runs the backbone on `images [B, Cin, S, S]` with parameters from `arena`. With
    /// `forBackward: false` (the teacher, inference) the GELU slopes that only backward reads are not
    /// computed; such a cache cannot be passed to `backward`. `patchMask` (`[B·(S/P)²]`, 1 = masked,
    /// patches row-major per image) replaces those patches' embeddings, after the embedding's LayerNorm,
    /// by the mask token at arena offset `token` (SimMIM, `MaskedImageModeling.mixToken`).
    /// `reusing`: the cache of an earlier call; when it was made for the same batch, size and pass, it is
    /// refilled and returned (no allocation). `keep`: an inference pass keeps every buffer (its cache is
    /// to be reused) instead of freeing each as soon as nothing reads it.
    public func forward(_ arena: ParameterArena, images: [Float], batch B: Int, size S: Int, forBackward: Bool = true,
                        patchMask: (mask: [Float], token: Int)? = nil, reusing old: Cache? = nil, keep: Bool = false) -> Cache {
        check(arena)
        let c = config
        let reuse = keep || old != nil
        let cache: Cache
        if let old, old.batch == B, old.size == S, old.forBackward == forBackward {
            cache = old
            cache.dropAliases()
        } else {
            cache = makeCache(batch: B, size: S, forBackward: forBackward)
        }
        let P = c.patch, side0 = S / P, L0 = side0 * side0
        let patchLen = c.inChannels * P * P
        Self.fit(&cache.patches, B * L0 * patchLen)
        images.withUnsafeBufferPointer { TokenLayout.patches(&cache.patches, $0.baseAddress!, B: B, Cin: c.inChannels, H: S, W: S, P: P) }
        if c.inputScale != 1 { let g = c.inputScale; cache.patches.withUnsafeMutableBufferPointer { for i in $0.indices { $0[i] *= g } } }
        Self.fit(&cache.embed, B * L0 * c.dim)
        Linear.forward(&cache.embed, cache.patches, (arena.values + offsets.embedWeight), (arena.values + offsets.embedBias),
                       N: B * L0, C: patchLen, OC: c.dim)
        Self.fit(&cache.embedLN, B * L0 * c.dim)
        Self.fit(&cache.embedMean, B * L0)
        Self.fit(&cache.embedRstd, B * L0)
        LayerNorm.forward(&cache.embedLN, mean: &cache.embedMean, rstd: &cache.embedRstd, cache.embed,
                          (arena.values + offsets.embedNormWeight), (arena.values + offsets.embedNormBias), N: B * L0, C: c.dim, eps: c.layerNormEps)
        if let patchMask {
            precondition(patchMask.mask.count == B * L0, "the patch mask has \(patchMask.mask.count) entries, not \(B * L0)")
            MaskedImageModeling.mixToken(&cache.embedLN, token: arena.values + patchMask.token, mask: patchMask.mask, rows: B * L0, C: c.dim)
            (cache.patchMask, cache.maskToken) = (patchMask.mask, patchMask.token)
        } else {
            (cache.patchMask, cache.maskToken) = ([], nil)
        }
        // An inference pass without a cache to keep frees each buffer once nothing reads it.
        let release = !forBackward && !reuse
        var x = cache.embedLN
        if release { (cache.patches, cache.embed, cache.embedLN) = ([], [], []) }
        for i in 0..<c.stages {
            for b in cache.blocks[i] {
                blockForward(arena, b, x, B: B, forBackward: forBackward, scratch: cache.scratch)
                if release { b.releaseForInference() }
                x = b.output
                if release { b.output = [] }
            }
            if i < c.stages - 1 {
                let m = cache.merges[i], C = m.C
                let rows = B * m.side * m.side / 4
                m.input = x
                Self.fit(&m.gathered, rows * 4 * C)
                TokenLayout.gather(&m.gathered, x, m.perm, rows: rows * 4, C: C)
                Self.fit(&m.ln, rows * 4 * C)
                Self.fit(&m.mean, rows)
                Self.fit(&m.rstd, rows)
                LayerNorm.forward(&m.ln, mean: &m.mean, rstd: &m.rstd, m.gathered, (arena.values + m.o.normWeight),
                                  (arena.values + m.o.normBias), N: rows, C: 4 * C, eps: c.layerNormEps)
                Self.fit(&m.output, rows * 2 * C)
                Linear.forward(&m.output, m.ln, (arena.values + m.o.reduction), nil, N: rows, C: 4 * C, OC: 2 * C)
                x = m.output
                if release { (m.input, m.gathered, m.ln, m.output) = ([], [], [], []) }
            }
        }
        let rows = B * cache.tokens
        cache.finalInput = x
        Self.fit(&cache.tokensOut, rows * c.finalDim)
        Self.fit(&cache.finalMean, rows)
        Self.fit(&cache.finalRstd, rows)
        LayerNorm.forward(&cache.tokensOut, mean: &cache.finalMean, rstd: &cache.finalRstd, x, (arena.values + offsets.normWeight),
                          (arena.values + offsets.normBias), N: rows, C: c.finalDim, eps: c.layerNormEps)
        if release { (cache.finalInput, cache.scratch.proj, cache.scratch.fc1) = ([], [], []) }
        return cache
    }

    /// The outputs of the last `n` blocks, earliest first, from the cache of a pass that kept its
    /// buffers (`forBackward`, or `keep`): `tokens [B·side², C]` in token order. Blocks of the last stage
    /// go through the final LayerNorm; earlier ones are taken as they are, before their stage's patch
    /// merging (EsViT's `forward_return_n_last_blocks`, the features of its linear probe).
    public func lastBlockOutputs(_ arena: ParameterArena, cache: Cache, count n: Int) -> [(tokens: [Float], side: Int, C: Int)] {
        let all = cache.blocks.enumerated().flatMap { stage, blocks in blocks.map { (stage, $0) } }
        precondition((1...all.count).contains(n), "\(n) last blocks of a backbone with \(all.count)")
        return all.suffix(n).map { stage, b in
            precondition(!b.output.isEmpty, "the cache kept no block outputs: run forward with keep: true")
            guard stage == config.stages - 1 else { return (b.output, b.side, b.C) }
            let rows = cache.batch * b.side * b.side
            var out = [Float](repeating: 0, count: rows * b.C), mean = [Float](repeating: 0, count: rows), rstd = mean
            LayerNorm.forward(&out, mean: &mean, rstd: &rstd, b.output, (arena.values + offsets.normWeight), (arena.values + offsets.normBias),
                              N: rows, C: b.C, eps: config.layerNormEps)
            return (out, b.side, b.C)
        }
    }

    /// One block on `x` (`[B·side², C]`, held as the block's input), into `b.output`.
    private func blockForward(_ arena: ParameterArena, _ b: BlockCache, _ x: [Float], B: Int, forBackward: Bool, scratch s: WorkingBuffers) {
        let rows = B * b.side * b.side, C = b.C, hid = C * config.mlpRatio, eps = config.layerNormEps
        let (o, v) = (b.o, arena.values)
        b.input = x
        Self.fit(&b.ln1Mean, rows)
        Self.fit(&b.ln1Rstd, rows)
        Self.fit(&b.windows, rows * C)
        // norm1 written straight in window order (the permuted rows of LayerNorm(x)).
        LayerNorm.forward(&b.windows, mean: &b.ln1Mean, rstd: &b.ln1Rstd, x, (v + o.norm1Weight), (v + o.norm1Bias), N: rows, C: C, eps: eps,
                          gathering: b.perm)
        Self.fit(&b.qkv, rows * 3 * C)
        Linear.forward(&b.qkv, b.windows, (v + o.qkvWeight), (v + o.qkvBias), N: rows, C: C, OC: 3 * C)
        let N = b.ws * b.ws, W = rows / N
        Self.fit(&b.probs, W * b.heads * N * N)
        Self.fit(&b.attn, rows * C)
        let mask = b.mask
        mask.withUnsafeBufferPointerIfPresent { m in
            WindowAttention.forward(&b.attn, probs: &b.probs, qkv: b.qkv, table: (v + o.table),
                                    index: b.index, mask: m, windowsPerImage: b.nW, W: W, N: N, C: C, heads: b.heads)
        }
        Self.atLeast(&s.proj, rows * C)
        Linear.forward(&s.proj, b.attn, (v + o.projWeight), (v + o.projBias), N: rows, C: C, OC: C)
        Self.fit(&b.x1, rows * C)
        TokenLayout.scatterSum(&b.x1, base: x, s.proj, b.perm, rows: rows, C: C)
        Self.fit(&b.ln2, rows * C)
        Self.fit(&b.ln2Mean, rows)
        Self.fit(&b.ln2Rstd, rows)
        LayerNorm.forward(&b.ln2, mean: &b.ln2Mean, rstd: &b.ln2Rstd, b.x1, (v + o.norm2Weight), (v + o.norm2Bias), N: rows, C: C, eps: eps)
        Self.atLeast(&s.fc1, rows * hid)
        Linear.forward(&s.fc1, b.ln2, (v + o.fc1Weight), (v + o.fc1Bias), N: rows, C: C, OC: hid)
        Self.fit(&b.gelu, rows * hid)
        if forBackward {
            Self.fit(&b.fc1Slope, rows * hid)
            GELU.forward(&b.gelu, slope: &b.fc1Slope, s.fc1, count: rows * hid)
        } else {
            GELU.forward(&b.gelu, s.fc1, count: rows * hid)
        }
        Self.fit(&b.output, rows * C)
        Linear.forward(&b.output, b.gelu, (v + o.fc2Weight), (v + o.fc2Bias), N: rows, C: hid, OC: C)
        b.output.withUnsafeMutableBufferPointer { o in b.x1.withUnsafeBufferPointer { x1 in for i in 0..<o.count { o[i] += x1[i] } } }
    }

    /// Accumulates every parameter's gradient into `arena.grads` from `dtokens`, the gradient of the
    /// final tokens `[B·L, C]` (after the final LayerNorm), plus `dstage`, a gradient of one stage's
    /// output (`Cache.stageOutput`) from another reader of it (the two-stage pixel decoder), if given.
    /// Its working buffers live in the cache (`StageGradient`, `WorkingBuffers`), reused with it.
    /// `chunks`: the caller runs a batch `chunks` times the cache's through it, a chunk at a time (SimMIM's
    /// lanes), so each weight gradient here is one block of the rows of a product over the whole batch,
    /// and its kernel is chosen for that product (`Linear.backward(wholeRows:)`).
    public func backward(_ arena: ParameterArena, cache: Cache, dtokens: [Float], dstage: (stage: Int, grad: [Float])? = nil, chunks: Int = 1) {
        check(arena)
        precondition(cache.forBackward, "backward needs a cache made with forBackward: true")
        let c = config
        let rows = cache.batch * cache.tokens
        let last = cache.gradients[c.stages - 1]
        Self.zeroed(&last.dx, rows * c.finalDim)
        LayerNorm.backward(dinp: &last.dx, dgamma: (arena.grads + offsets.normWeight), dbeta: (arena.grads + offsets.normBias), dout: dtokens,
                           inp: cache.finalInput, gamma: (arena.values + offsets.normWeight), mean: cache.finalMean, rstd: cache.finalRstd, N: rows, C: c.finalDim)
        for i in (0..<c.stages).reversed() {
            let g = cache.gradients[i]
            if i < c.stages - 1 {
                let m = cache.merges[i], above = cache.gradients[i + 1], s = cache.scratch
                let C = m.C, mrows = cache.batch * m.side * m.side / 4
                Self.zeroedAtLeast(&s.dmergeLN, mrows * 4 * C)
                Linear.backward(dinp: &s.dmergeLN, dweight: (arena.grads + m.o.reduction), dbias: nil, dout: above.dx, inp: m.ln,
                                weight: (arena.values + m.o.reduction), N: mrows, C: 4 * C, OC: 2 * C, wholeRows: mrows * chunks)
                Self.zeroedAtLeast(&s.dmergeIn, mrows * 4 * C)
                LayerNorm.backward(dinp: &s.dmergeIn, dgamma: (arena.grads + m.o.normWeight), dbeta: (arena.grads + m.o.normBias), dout: s.dmergeLN,
                                   inp: m.gathered, gamma: (arena.values + m.o.normWeight), mean: m.mean, rstd: m.rstd, N: mrows, C: 4 * C)
                Self.zeroed(&g.dx, cache.batch * m.side * m.side * C)
                TokenLayout.scatterAdd(&g.dx, s.dmergeIn, m.perm, rows: mrows * 4, C: C)
                if let dstage, dstage.stage == i {
                    precondition(dstage.grad.count == g.dx.count, "stage \(i)'s gradient has \(dstage.grad.count) values, not \(g.dx.count)")
                    g.dx.withUnsafeMutableBufferPointer { d in for k in d.indices { d[k] += dstage.grad[k] } }
                }
            }
            for b in cache.blocks[i].reversed() { blockBackward(arena, b, g, cache.scratch, B: cache.batch, chunks: chunks) }
        }
        let dx = cache.gradients[0]
        let L0 = cache.batch * (cache.batch > 0 ? cache.embed.count / (cache.batch * c.dim) : 0)
        if let token = cache.maskToken {
            MaskedImageModeling.mixTokenBackward(&dx.dx, dtoken: arena.grads + token, mask: cache.patchMask, rows: L0, C: c.dim)
        }
        Self.zeroed(&cache.dembed, L0 * c.dim)
        LayerNorm.backward(dinp: &cache.dembed, dgamma: (arena.grads + offsets.embedNormWeight), dbeta: (arena.grads + offsets.embedNormBias),
                           dout: dx.dx, inp: cache.embed, gamma: (arena.values + offsets.embedNormWeight), mean: cache.embedMean,
                           rstd: cache.embedRstd, N: L0, C: c.dim)
        Linear.backward(dinp: nil, dweight: (arena.grads + offsets.embedWeight), dbias: (arena.grads + offsets.embedBias), dout: cache.dembed,
                        inp: cache.patches, weight: (arena.values + offsets.embedWeight), N: L0, C: c.inChannels * c.patch * c.patch, OC: c.dim,
                        wholeRows: L0 * chunks)
    }

    /// Replaces `stage.dx`, the gradient of the block's output, by the gradient of its input (in place: each
    /// term of the residual stream accumulates into it, as backward accumulates everywhere).
    private func blockBackward(_ arena: ParameterArena, _ b: BlockCache, _ stage: StageGradient, _ s: WorkingBuffers, B: Int, chunks: Int) {
        let rows = B * b.side * b.side, C = b.C, hid = C * config.mlpRatio
        let (o, v, g) = (b.o, arena.values, arena.grads)
        // out = x1 + fc2(gelu(fc1(ln2(x1)))): dx becomes d(x1).
        // The working buffers are written whole by the first kernel that fills them (no zeroing).
        // fc2's input gradient times the GELU's slope is fc1's output gradient, made in one product, a
        // block of rows at a time (`Linear.rowBlock`): fc1's backward reads each block while it is in cache.
        let block = Linear.rowBlock(N: rows, C: C, wide: hid)
        Self.atLeast(&s.dfc1, block * hid)
        Self.atLeast(&s.dln2, rows * C)
        s.dfc1.withUnsafeMutableBufferPointer { dfc1 in
            s.dln2.withUnsafeMutableBufferPointer { dln2 in
                stage.dx.withUnsafeBufferPointer { dx in
                    b.gelu.withUnsafeBufferPointer { gelu in
                        b.fc1Slope.withUnsafeBufferPointer { slope in
                            b.ln2.withUnsafeBufferPointer { ln2 in
                                let (dfc1, dln2, dx, gelu, slope, ln2) = (dfc1.baseAddress!, dln2.baseAddress!, dx.baseAddress!,
                                                                          gelu.baseAddress!, slope.baseAddress!, ln2.baseAddress!)
                                for r0 in stride(from: 0, to: rows, by: block) {
                                    let n = min(block, rows - r0)
                                    Linear.backward(dinp: dfc1, dweight: g + o.fc2Weight, dbias: g + o.fc2Bias, dout: dx + r0 * C,
                                                    inp: gelu + r0 * hid, weight: v + o.fc2Weight, N: n, C: hid, OC: C,
                                                    accumulateInput: false, inputScale: slope + r0 * hid, wholeRows: rows * chunks)
                                    Linear.backward(dinp: dln2 + r0 * C, dweight: g + o.fc1Weight, dbias: g + o.fc1Bias, dout: dfc1,
                                                    inp: ln2 + r0 * C, weight: v + o.fc1Weight, N: n, C: C, OC: hid,
                                                    accumulateInput: false, wholeRows: rows * chunks)
                                }
                            }
                        }
                    }
                }
            }
        }
        LayerNorm.backward(dinp: &stage.dx, dgamma: (g + o.norm2Weight), dbeta: (g + o.norm2Bias), dout: s.dln2, inp: b.x1,
                           gamma: (v + o.norm2Weight), mean: b.ln2Mean, rstd: b.ln2Rstd, N: rows, C: C)
        // x1 = x + reverse(proj(attn(qkv(windows(ln1(x)))))): dx becomes d(x).
        Self.atLeast(&s.dproj, rows * C)  // gather overwrites every row
        TokenLayout.gather(&s.dproj, stage.dx, b.perm, rows: rows, C: C)
        Self.atLeast(&s.dattn, rows * C)
        Linear.backward(dinp: &s.dattn, dweight: (g + o.projWeight), dbias: (g + o.projBias), dout: s.dproj, inp: b.attn,
                        weight: (v + o.projWeight), N: rows, C: C, OC: C, accumulateInput: false, wholeRows: rows * chunks)
        let N = b.ws * b.ws, W = rows / N
        Self.atLeast(&s.dqkv, rows * 3 * C)
        WindowAttention.backward(dqkv: &s.dqkv, dtable: (g + o.table), dout: s.dattn, qkv: b.qkv, probs: b.probs,
                                 index: b.index, W: W, N: N, C: C, heads: b.heads)
        Self.atLeast(&s.dwin, rows * C)
        Linear.backward(dinp: &s.dwin, dweight: (g + o.qkvWeight), dbias: (g + o.qkvBias), dout: s.dqkv, inp: b.windows,
                        weight: (v + o.qkvWeight), N: rows, C: C, OC: 3 * C, accumulateInput: false, wholeRows: rows * chunks)
        // norm1's output gradient is dwin in window order, read through the inverse permutation.
        LayerNorm.backward(dinp: &stage.dx, dgamma: (g + o.norm1Weight), dbeta: (g + o.norm1Bias), dout: s.dwin, inp: b.input,
                           gamma: (v + o.norm1Weight), mean: b.ln1Mean, rstd: b.ln1Rstd, N: rows, C: C, doutRows: b.windowRow)
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
