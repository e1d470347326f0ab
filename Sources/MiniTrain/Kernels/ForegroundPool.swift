import LensCore

/// Foreground-weighted pooling: the pooled feature of an image is a weighted mean of its stage's
/// tokens, each token weighted by how much of its input cell is lens light rather than sky.
///
/// Why: a DeepLense stamp is mostly sky. `scripts/sky_token_share.py` measures that about two thirds of
/// the 16 px cells behind the default network's 4x4 final tokens are sky (docs/science.md, seventh
/// session), so a plain mean is dominated by near-identical sky tokens and every image's pooled feature
/// points the same way. The weights are a fixed function of the input pixels (no gradient flows into
/// them), so the backward pass is the mean pool's with `w[b, l]` in place of `1 / L`.
public enum ForegroundPool {
    /// A cell counts fully once its mean is this many sky sigmas above the sky level; below, its weight
    /// falls linearly to 0 at the sky level (so the bright lens core does not take the sky's place).
    public static let saturationSigmas: Float = 3

    /// `weights [B, side·side]` (each image's row sums to 1) from `images [B, Cin, S, S]`, for a token
    /// grid of `side x side` cells of `S / side` pixels (row-major, as a stage's tokens).
    ///
    /// Per image, over the channel-summed plane: the sky level is the median pixel and the sky sigma is
    /// 1.4826 x the median absolute deviation (robust to the lens, which covers well under half of a
    /// stamp). Cell weight = clamp((cell mean − sky) / (saturationSigmas · sigma), 0, 1); a noise-free
    /// image (sigma 0) weights cells above the sky 1. An image with no cell above the sky gets uniform
    /// weights (the plain mean).
    /// `skyStride`: the sky level and sigma from every `skyStride`-th pixel of every `skyStride`-th row
    /// only (1: every pixel). The view producer's mask draw takes 2 (`PatchMaskDraw`).
    public static func weights(images: UnsafePointer<Float>, B: Int, Cin: Int, S: Int, side: Int, skyStride: Int = 1) -> [Float] {
        precondition(side > 0 && S % side == 0, "image side \(S) is not a multiple of the token grid \(side)")
        precondition(skyStride >= 1, "sky stride \(skyStride) is not positive")
        let L = side * side, cell = S / side
        var w = [Float](repeating: 0, count: B * L)
        var plane = [Float](repeating: 0, count: S * S)
        let sampled = ((S + skyStride - 1) / skyStride) * ((S + skyStride - 1) / skyStride)
        var sample = [Float](repeating: 0, count: sampled)
        for b in 0..<B {
            for i in 0..<(S * S) { plane[i] = 0 }
            for c in 0..<Cin { let src = images + (b * Cin + c) * S * S; for i in 0..<(S * S) { plane[i] += src[i] } }
            var n = 0
            for y in stride(from: 0, to: S, by: skyStride) { for x in stride(from: 0, to: S, by: skyStride) { sample[n] = plane[y * S + x]; n += 1 } }
            let sky = Selection.median(sample)
            for i in 0..<sampled { sample[i] = abs(sample[i] - sky) }
            let sigma = 1.4826 * Selection.median(sample)
            var total: Float = 0
            for gy in 0..<side {
                for gx in 0..<side {
                    var sum: Float = 0
                    for y in (gy * cell)..<((gy + 1) * cell) { for x in (gx * cell)..<((gx + 1) * cell) { sum += plane[y * S + x] } }
                    let excess = sum / Float(cell * cell) - sky
                    let v: Float = sigma > 0 ? min(max(excess / (saturationSigmas * sigma), 0), 1) : (excess > 0 ? 1 : 0)
                    w[b * L + gy * side + gx] = v
                    total += v
                }
            }
            for l in 0..<L { w[b * L + l] = total > 0 ? w[b * L + l] / total : 1 / Float(L) }
        }
        return w
    }

    /// `out [B, C] = Σ_l weights[b, l] · inp[b, l, :]` for `inp [B, L, C]`.
    public static func forward(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, weights: UnsafePointer<Float>, B: Int, L: Int, C: Int) {
        for b in 0..<B {
            for c in 0..<C { out[b * C + c] = 0 }
            for l in 0..<L {
                let wl = weights[b * L + l]
                for c in 0..<C { out[b * C + c] += wl * inp[(b * L + l) * C + c] }
            }
        }
    }

    /// Accumulates `dinp[b, l, :] += weights[b, l] · dout[b, :]`.
    public static func backward(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, weights: UnsafePointer<Float>, B: Int, L: Int, C: Int) {
        for b in 0..<B {
            for l in 0..<L {
                let wl = weights[b * L + l]
                for c in 0..<C { dinp[(b * L + l) * C + c] += wl * dout[b * C + c] }
            }
        }
    }
}
