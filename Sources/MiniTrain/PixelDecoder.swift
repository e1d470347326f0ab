/// SimMIM's decoder for a Swin backbone: a learnable mask token that replaces the embeddings of masked
/// patches, and a one-layer linear decoder from the last stage's tokens to the raw pixels (a 1x1
/// convolution to `Cin·r²` channels, then PixelShuffle(r), `r` the encoder's stride `patch · 2^(stages-1)`).
/// Present in a network when `EsViTConfig.pixelDecoder` is set; its tensors follow the heads' in the
/// arena under SimMIM's names (`mask_token` `[1, 1, dim]`, `decoder.0.weight` `[Cin·r², C, 1, 1]`,
/// `decoder.0.bias`), so a PyTorch `nn.Conv2d` loads them as they are.
///
/// With `config.decoderStages == 2` a second decoder of the same form reads the stage before the last
/// (its blocks' output, before the patch merging: `C/2` channels at stride `r/2`), `decoder_mid.0.weight`
/// `[Cin·(r/2)², C/2, 1, 1]` and `decoder_mid.0.bias`; the two reconstructions are added.
public struct PixelDecoder: Sendable {
    public let config: EsViTConfig
    /// Offsets of the mask token, the decoder weight and bias, and the second decoder's weight and bias
    /// (`decoderStages == 2`; else equal to the end) in an arena whose tensors up to this decoder's take
    /// `base` floats.
    let maskToken: Int, weight: Int, bias: Int, midWeight: Int, midBias: Int

    public init(config: EsViTConfig, base: Int) {
        self.config = config
        let stride = config.patch << (config.stages - 1)
        let outChannels = config.inChannels * stride * stride
        maskToken = base
        weight = maskToken + config.dim
        bias = weight + outChannels * config.finalDim
        midWeight = bias + outChannels
        midBias = midWeight + (config.decoderStages == 2 ? config.inChannels * stride * stride / 4 * config.stageDim(config.stages - 2) : 0)
    }

    /// The encoder's stride: pixels per final-stage token side.
    public var stride: Int { config.patch << (config.stages - 1) }
    /// The decoder's output channels per token, `Cin · stride²`.
    public var outChannels: Int { config.inChannels * stride * stride }
    /// Whether the stage before the last is decoded too.
    public var readsTwoStages: Bool { config.decoderStages == 2 }
    /// The stage the second decoder reads, its channels and its output channels per token, `Cin · (stride/2)²`.
    var midStage: Int { config.stages - 2 }
    var midChannels: Int { config.stageDim(midStage) }
    var midOutChannels: Int { outChannels / 4 }

    public var layout: [(String, [Int])] {
        var l: [(String, [Int])] = [("mask_token", [1, 1, config.dim]), ("decoder.0.weight", [outChannels, config.finalDim, 1, 1]),
                                    ("decoder.0.bias", [outChannels])]
        if readsTwoStages { l += [("decoder_mid.0.weight", [midOutChannels, midChannels, 1, 1]), ("decoder_mid.0.bias", [midOutChannels])] }
        return l
    }

    /// The mask token's values and gradient.
    func token(_ arena: ParameterArena) -> (values: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>) {
        (arena.values + maskToken, arena.grads + maskToken)
    }

    /// The decoder's step memory: its activation and gradient buffers, refilled in place by every pass
    /// that is given it (one per lane and crop size; `EsViTTrainer`).
    public final class Memory {
        var decoded: [Float] = [], pixels: [Float] = [], decodedMid: [Float] = [], pixelsMid: [Float] = []
        var dpixels: [Float] = [], ddecoded: [Float] = [], dtokens: [Float] = [], ddecodedMid: [Float] = [], dmid: [Float] = []
        public init() {}
        /// The buffers' base addresses (for the tests that a reused memory keeps them).
        public var bufferAddresses: [Int] {
            [decoded, pixels, dpixels, ddecoded, dtokens].map { x in x.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }
        }
    }

    /// What the decoder reads from a backbone pass: the final tokens `[B·g², C]` and, with two stages,
    /// the stage before the last `[B·(2g)², C/2]` (empty otherwise).
    public func inputs(_ cache: SwinBackbone.Cache) -> (tokens: [Float], mid: [Float]) {
        (cache.tokensOut, readsTwoStages ? cache.stageOutput(midStage) : [])
    }

    /// The reconstruction `[B, Cin, S, S]` from the final tokens `[B·g², C]` (`g = S / stride`) and, with
    /// two stages, `mid [B·(2g)², C/2]`.
    public func forward(_ arena: ParameterArena, tokens: [Float], mid: [Float] = [], batch B: Int, size S: Int, memory: Memory? = nil) -> [Float] {
        let m = memory ?? Memory()
        forward(arena, tokens: tokens, mid: mid, batch: B, size: S, into: m)
        return m.pixels
    }

    /// `forward` into `m.pixels`.
    func forward(_ arena: ParameterArena, tokens: [Float], mid: [Float], batch B: Int, size S: Int, into m: Memory) {
        let g = S / stride, C = config.finalDim, OC = outChannels
        precondition(g * stride == S && tokens.count == B * g * g * C)
        SwinBackbone.fit(&m.decoded, B * g * g * OC)
        Linear.forward(&m.decoded, tokens, arena.values + weight, arena.values + bias, N: B * g * g, C: C, OC: OC)
        SwinBackbone.fit(&m.pixels, B * config.inChannels * S * S)
        MaskedImageModeling.pixelShuffle(&m.pixels, m.decoded, B: B, Cin: config.inChannels, grid: g, r: stride)
        if readsTwoStages {
            let g2 = 2 * g, C2 = midChannels, OC2 = midOutChannels
            precondition(mid.count == B * g2 * g2 * C2, "the second decoder reads \(B * g2 * g2 * C2) values, not \(mid.count)")
            SwinBackbone.fit(&m.decodedMid, B * g2 * g2 * OC2)
            Linear.forward(&m.decodedMid, mid, arena.values + midWeight, arena.values + midBias, N: B * g2 * g2, C: C2, OC: OC2)
            SwinBackbone.fit(&m.pixelsMid, m.pixels.count)
            MaskedImageModeling.pixelShuffle(&m.pixelsMid, m.decodedMid, B: B, Cin: config.inChannels, grid: g2, r: stride / 2)
            m.pixels.withUnsafeMutableBufferPointer { p in m.pixelsMid.withUnsafeBufferPointer { q in for i in p.indices { p[i] += q[i] } } }
        }
    }

    /// Accumulates the decoder's parameter gradients from `dpixels [B, Cin, S, S]` and returns the
    /// gradients of the final tokens `[B·g², C]` and of `mid` (empty with one stage).
    public func backward(_ arena: ParameterArena, tokens: [Float], mid: [Float] = [], dpixels: [Float], batch B: Int, size S: Int,
                         memory: Memory? = nil) -> (dtokens: [Float], dmid: [Float]) {
        let m = memory ?? Memory()
        let g = S / stride, C = config.finalDim, OC = outChannels
        SwinBackbone.fit(&m.ddecoded, B * g * g * OC)
        MaskedImageModeling.pixelUnshuffle(&m.ddecoded, dpixels, B: B, Cin: config.inChannels, grid: g, r: stride)
        SwinBackbone.zeroed(&m.dtokens, B * g * g * C)
        Linear.backward(dinp: &m.dtokens, dweight: arena.grads + weight, dbias: arena.grads + bias, dout: m.ddecoded, inp: tokens,
                        weight: arena.values + weight, N: B * g * g, C: C, OC: OC)
        guard readsTwoStages else { return (m.dtokens, []) }
        let g2 = 2 * g, C2 = midChannels, OC2 = midOutChannels
        SwinBackbone.fit(&m.ddecodedMid, B * g2 * g2 * OC2)
        MaskedImageModeling.pixelUnshuffle(&m.ddecodedMid, dpixels, B: B, Cin: config.inChannels, grid: g2, r: stride / 2)
        SwinBackbone.zeroed(&m.dmid, B * g2 * g2 * C2)
        Linear.backward(dinp: &m.dmid, dweight: arena.grads + midWeight, dbias: arena.grads + midBias, dout: m.ddecodedMid, inp: mid,
                        weight: arena.values + midWeight, N: B * g2 * g2, C: C2, OC: OC2)
        return (m.dtokens, m.dmid)
    }
}

extension PixelDecoder {
    /// SimMIM's objective on one forward pass: reconstructs the image from the final `tokens [B·g², C]`
    /// (and `mid`, with two stages), takes the L1 distance to `target [B, Cin, S, S]` on the patches
    /// `patchMask [B·(S/P)²]` masked (divided by `normalizer`, the masked pixels times `Cin` of the whole
    /// batch), accumulates the decoder's gradients (scaled by `weight`) and returns the loss with the
    /// gradients of the tokens and of `mid`.
    /// `memory`: the buffers to refill (a step's lane keeps one); the gradients returned are its buffers.
    public func loss(_ arena: ParameterArena, tokens: [Float], mid: [Float] = [], target: [Float], patchMask: [Float], batch B: Int, size S: Int,
                     normalizer: Double, weight: Float, memory: Memory? = nil) -> (loss: Double, dtokens: [Float], dmid: [Float]) {
        let m = memory ?? Memory()
        forward(arena, tokens: tokens, mid: mid, batch: B, size: S, into: m)
        SwinBackbone.fit(&m.dpixels, m.pixels.count)
        let loss = MaskedImageModeling.maskedL1(dpred: &m.dpixels, pred: m.pixels, target: target, mask: patchMask, B: B, Cin: config.inChannels,
                                                S: S, P: config.patch, normalizer: normalizer)
        if weight != 1 { m.dpixels.withUnsafeMutableBufferPointer { d in for i in d.indices { d[i] *= weight } } }
        let (dtokens, dmid) = backward(arena, tokens: tokens, mid: mid, dpixels: m.dpixels, batch: B, size: S, memory: m)
        return (loss, dtokens, dmid)
    }
}
