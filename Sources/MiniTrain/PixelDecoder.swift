/// SimMIM's decoder for a Swin backbone: a learnable mask token that replaces the embeddings of masked
/// patches, and a one-layer linear decoder from the last stage's tokens to the raw pixels (a 1x1
/// convolution to `Cin·r²` channels, then PixelShuffle(r), `r` the encoder's stride `patch · 2^(stages-1)`).
/// Present in a network when `EsViTConfig.pixelDecoder` is set; its tensors follow the heads' in the
/// arena under SimMIM's names (`mask_token` `[1, 1, dim]`, `decoder.0.weight` `[Cin·r², C, 1, 1]`,
/// `decoder.0.bias`), so a PyTorch `nn.Conv2d` loads them as they are.
public struct PixelDecoder: Sendable {
    public let config: EsViTConfig
    /// Offsets of the mask token, the decoder weight and bias in an arena whose tensors up to this
    /// decoder's take `base` floats.
    let maskToken: Int, weight: Int, bias: Int

    public init(config: EsViTConfig, base: Int) {
        self.config = config
        let stride = config.patch << (config.stages - 1)
        maskToken = base
        weight = maskToken + config.dim
        bias = weight + config.inChannels * stride * stride * config.finalDim
    }

    /// The encoder's stride: pixels per final-stage token side.
    public var stride: Int { config.patch << (config.stages - 1) }
    /// The decoder's output channels per token, `Cin · stride²`.
    public var outChannels: Int { config.inChannels * stride * stride }

    public var layout: [(String, [Int])] {
        [("mask_token", [1, 1, config.dim]), ("decoder.0.weight", [outChannels, config.finalDim, 1, 1]), ("decoder.0.bias", [outChannels])]
    }

    /// The mask token's values and gradient.
    func token(_ arena: ParameterArena) -> (values: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>) {
        (arena.values + maskToken, arena.grads + maskToken)
    }

    /// The reconstruction `[B, Cin, S, S]` from the final tokens `[B·g², C]` (`g = S / stride`).
    public func forward(_ arena: ParameterArena, tokens: [Float], batch B: Int, size S: Int) -> [Float] {
        let g = S / stride, C = config.finalDim, OC = outChannels
        precondition(g * stride == S && tokens.count == B * g * g * C)
        var decoded = [Float].uninitialized(B * g * g * OC)
        Linear.forward(&decoded, tokens, arena.values + weight, arena.values + bias, N: B * g * g, C: C, OC: OC)
        var pixels = [Float].uninitialized(B * config.inChannels * S * S)
        MaskedImageModeling.pixelShuffle(&pixels, decoded, B: B, Cin: config.inChannels, grid: g, r: stride)
        return pixels
    }

    /// Accumulates the decoder's parameter gradients from `dpixels [B, Cin, S, S]` and returns the
    /// gradient of the final tokens `[B·g², C]`.
    public func backward(_ arena: ParameterArena, tokens: [Float], dpixels: [Float], batch B: Int, size S: Int) -> [Float] {
        let g = S / stride, C = config.finalDim, OC = outChannels
        var ddecoded = [Float].uninitialized(B * g * g * OC)
        MaskedImageModeling.pixelUnshuffle(&ddecoded, dpixels, B: B, Cin: config.inChannels, grid: g, r: stride)
        var dtokens = [Float](repeating: 0, count: B * g * g * C)
        Linear.backward(dinp: &dtokens, dweight: arena.grads + weight, dbias: arena.grads + bias, dout: ddecoded, inp: tokens,
                        weight: arena.values + weight, N: B * g * g, C: C, OC: OC)
        return dtokens
    }
}

extension PixelDecoder {
    /// SimMIM's objective on one forward pass: reconstructs the image from the final `tokens [B·g², C]`,
    /// takes the L1 distance to `target [B, Cin, S, S]` on the patches `patchMask [B·(S/P)²]` masked
    /// (divided by `normalizer`, the masked pixels times `Cin` of the whole batch), accumulates the
    /// decoder's gradients (scaled by `weight`) and returns the loss with the gradient of the tokens.
    public func loss(_ arena: ParameterArena, tokens: [Float], target: [Float], patchMask: [Float], batch B: Int, size S: Int,
                     normalizer: Double, weight: Float) -> (loss: Double, dtokens: [Float]) {
        let pixels = forward(arena, tokens: tokens, batch: B, size: S)
        var dpixels = [Float].uninitialized(pixels.count)
        let loss = MaskedImageModeling.maskedL1(dpred: &dpixels, pred: pixels, target: target, mask: patchMask, B: B, Cin: config.inChannels,
                                                S: S, P: config.patch, normalizer: normalizer)
        if weight != 1 { dpixels.withUnsafeMutableBufferPointer { d in for i in d.indices { d[i] *= weight } } }
        return (loss, backward(arena, tokens: tokens, dpixels: dpixels, batch: B, size: S))
    }
}
