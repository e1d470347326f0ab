/// One EsViT network (student or teacher): the Swin backbone and the two DINO heads, all parameters in
/// one arena under microsoft/esvit's state-dict names.
public struct EsViTNetwork: Sendable {
    public let config: EsViTConfig
    public let backbone: SwinBackbone
    public let head: DINOHead
    public let headDense: DINOHead
    /// SimMIM's mask token and pixel decoder, after the heads (`config.pixelDecoder`).
    public let decoder: PixelDecoder?

    public init(config: EsViTConfig) {
        self.config = config
        backbone = SwinBackbone(config: config)
        head = DINOHead(config: config, name: "head", base: backbone.offsets.count)
        headDense = DINOHead(config: config, name: "head_dense", base: head.end)
        decoder = config.pixelDecoder ? PixelDecoder(config: config, base: headDense.end) : nil
    }

    public var layout: [(String, [Int])] { backbone.layout + head.layout + headDense.layout + (decoder?.layout ?? []) }

    /// A new arena for this network (values zero; see `initialize`).
    public func makeArena() -> ParameterArena { ParameterArena(layout: layout) }

    /// The outputs of one resolution group of crops (crop-major: all images of crop 0, then crop 1, ...).
    public final class Output {
        public var backbone: SwinBackbone.Cache
        public var view: DINOHead.Cache
        public var region: DINOHead.Cache
        /// `[rows, C]`: pooled backbone features (`rows` = crops x images).
        public var pooled: [Float]
        /// `[rows, L]`: the foreground pooling's token weights (empty for the mean pool).
        var poolWeights: [Float]
        /// `[C]`: the view head's input standardisation (`RunningStandardize`; empty: the head sees `pooled`).
        var headInvStd: [Float]
        init(backbone: SwinBackbone.Cache, view: DINOHead.Cache, region: DINOHead.Cache, pooled: [Float], poolWeights: [Float], headInvStd: [Float]) {
            self.backbone = backbone
            self.view = view
            self.region = region
            self.pooled = pooled
            self.poolWeights = poolWeights
            self.headInvStd = headInvStd
        }
    }

    /// Runs the network on `images [B, Cin, S, S]` (B = crops x images of one resolution).
    /// `forBackward: false`: the teacher's pass (nothing computed that only backward needs).
    /// `headInput`: with `config.viewHead == .standardized`, the running mean and inverse standard
    /// deviation `[C]` that the pooled features are standardised by before the view head (the trainer
    /// keeps them, one pair per network); ignored otherwise. `patchMask` (`[B·(S/P)²]`, 1 = masked)
    /// puts the decoder's mask token in place of those patches' embeddings (`SwinBackbone.forward`).
    /// `reusing`: an earlier output whose backbone and head buffers this pass refills, `keep`: keep the
    /// backbone's for that (`SwinBackbone.forward`). The pooled features (`[B, C]`) are new each pass.
    /// `headScratch`: the heads' working buffers (`DINOHead.Scratch`; nil: new ones).
    public func forward(_ arena: ParameterArena, images: [Float], batch B: Int, size S: Int, forBackward: Bool = true,
                        headInput: (mean: [Float], invStd: [Float])? = nil, patchMask: [Float]? = nil, reusing old: Output? = nil,
                        keep: Bool = false, headScratch: DINOHead.Scratch? = nil) -> Output {
        if let old { (old.view.input, old.region.input) = ([], []) }  // the region head read the old tokens: let them go
        let bb = backbone.forward(arena, images: images, batch: B, size: S, forBackward: forBackward, patchMask: backboneMask(patchMask),
                                  reusing: old?.backbone, keep: keep)
        let (pooled, weights) = pool(bb, images: images, size: S)
        var headIn = pooled, invStd: [Float] = []
        if config.viewHead == .standardized {
            let stats = headInput ?? (mean: [Float](repeating: 0, count: config.finalDim), invStd: [Float](repeating: 1, count: config.finalDim))
            RunningStandardize.forward(&headIn, pooled, mean: stats.mean, invStd: stats.invStd, N: B, C: config.finalDim)
            invStd = stats.invStd
        }
        let v = head.forward(arena, input: headIn, rows: B, reusing: old?.view, scratch: headScratch)
        let r = headDense.forward(arena, input: bb.tokensOut, rows: B * bb.tokens, reusing: old?.region, scratch: headScratch)
        return Output(backbone: bb, view: v, region: r, pooled: pooled, poolWeights: weights, headInvStd: invStd)
    }

    /// A patch mask with the mask token's offset, for the backbone (nil without a mask).
    func backboneMask(_ mask: [Float]?) -> (mask: [Float], token: Int)? {
        guard let mask else { return nil }
        guard let decoder else { preconditionFailure("a patch mask needs a network with a pixel decoder (config.pixelDecoder)") }
        return (mask, decoder.maskToken)
    }

    /// `config.pooling` of the final tokens: the pooled features `[B, C]` and the token weights `[B, L]`
    /// (empty for the mean pool).
    func pool(_ bb: SwinBackbone.Cache, images: [Float], size S: Int) -> (pooled: [Float], weights: [Float]) {
        pool(tokens: bb.tokensOut, images: images, batch: bb.batch, size: S, L: bb.tokens, C: config.finalDim)
    }

    /// `config.pooling` of `tokens [B·L, C]` (any stage's): `[B, C]` and the token weights `[B, L]`.
    func pool(tokens: [Float], images: [Float], batch B: Int, size S: Int, L: Int, C: Int) -> (pooled: [Float], weights: [Float]) {
        var pooled = [Float](repeating: 0, count: B * C)
        let w = Self.poolWeights(config, images: images, batch: B, size: S, tokens: L)
        if w.isEmpty {
            TokenLayout.meanPool(&pooled, tokens, B: B, L: L, C: C)
        } else {
            ForegroundPool.forward(&pooled, tokens, weights: w, B: B, L: L, C: C)
        }
        return (pooled, w)
    }

    /// The token weights `[B, L]` of `config.pooling` for `images [B, Cin, S, S]` whose pooled stage has
    /// `L` tokens: empty for the mean pool, `ForegroundPool.weights` for the foreground pool. The one
    /// place the pooling is chosen, for the network, evaluation and the fine-tuning head (`LinearHead`).
    public static func poolWeights(_ config: EsViTConfig, images: [Float], batch B: Int, size S: Int, tokens L: Int) -> [Float] {
        switch config.pooling {
        case .mean:
            return []
        case .foreground:
            let side = Int(Double(L).squareRoot())
            return images.withUnsafeBufferPointer { ForegroundPool.weights(images: $0.baseAddress!, B: B, Cin: config.inChannels, S: S, side: side) }
        }
    }

    /// Inference: the pooled backbone features `[B, C]` of `images [B, Cin, S, S]` (no heads; nothing
    /// is kept for a backward pass beyond this call). Evaluation and the k-NN monitor use the teacher's.
    public func embed(_ arena: ParameterArena, images: [Float], batch B: Int, size S: Int) -> [Float] {
        let bb = backbone.forward(arena, images: images, batch: B, size: S, forBackward: false)
        return pool(bb, images: images, size: S).pooled
    }

    /// Inference for the linear probe (EsViT's `eval_linear.py --n_last_blocks`): the `config.pooling`
    /// pools of the last `blocks` blocks' outputs (`SwinBackbone.lastBlockOutputs`), concatenated
    /// earliest first, `[B, config.lastBlocksWidth(blocks)]`. The final block's part is `embed`'s
    /// feature; `blocks` 1 is `embed`.
    public func embed(_ arena: ParameterArena, images: [Float], batch B: Int, size S: Int, lastBlocks blocks: Int) -> [Float] {
        if blocks == 1 { return embed(arena, images: images, batch: B, size: S) }
        let bb = backbone.forward(arena, images: images, batch: B, size: S, forBackward: false, keep: true)
        let parts = backbone.lastBlockOutputs(arena, cache: bb, count: blocks)
        let D = parts.reduce(0) { $0 + $1.C }
        var out = [Float](repeating: 0, count: B * D), at = 0
        for part in parts {
            let C = part.C
            let pooled = pool(tokens: part.tokens, images: images, batch: B, size: S, L: part.side * part.side, C: C).pooled
            for b in 0..<B { for c in 0..<C { out[b * D + at + c] = pooled[b * C + c] } }
            at += C
        }
        return out
    }

    /// Backpropagates gradients of the view logits `[B, K]` and region logits `[B·L, K]`, plus `dtokens`,
    /// a gradient of the final tokens `[B·L, C]` from another objective (the pixel decoder's), and
    /// `dstage`, that objective's gradient of an earlier stage's output, if given.
    public func backward(_ arena: ParameterArena, output: Output, dview: [Float], dregion: [Float], trainG: Bool = false,
                         dtokens extra: [Float]? = nil, dstage: (stage: Int, grad: [Float])? = nil, headScratch: DINOHead.Scratch? = nil) {
        let B = output.backbone.batch, L = output.backbone.tokens, C = config.finalDim
        // The heads leave their input gradients in their caches; both are worked on in place there.
        let (view, region) = (output.view, output.region)
        head.backward(arena, cache: view, dlogits: dview, trainG: trainG, scratch: headScratch)
        if !output.headInvStd.isEmpty { RunningStandardize.backward(&view.dinput, invStd: output.headInvStd, N: B, C: C) }
        headDense.backward(arena, cache: region, dlogits: dregion, trainG: trainG, scratch: headScratch)
        if output.poolWeights.isEmpty {
            TokenLayout.meanPoolBackward(&region.dinput, view.dinput, B: B, L: L, C: C)
        } else {
            ForegroundPool.backward(&region.dinput, view.dinput, weights: output.poolWeights, B: B, L: L, C: C)
        }
        if let extra {
            precondition(extra.count == region.dinput.count)
            region.dinput.withUnsafeMutableBufferPointer { d in for i in d.indices { d[i] += extra[i] } }
        }
        backbone.backward(arena, cache: output.backbone, dtokens: region.dinput, dstage: dstage)
    }
}
