/// The numerical pieces of SimMIM (Xie et al., CVPR 2022) on a Swin backbone: the mask token mixed into
/// the patch embeddings, the pixel shuffle that turns the last stage's tokens back into an image, the
/// L1 loss on the masked pixels, and the optional per-block target normalisation. `PixelDecoder` puts
/// them together; the trainer (`EsViTTrainer`) weighs the loss beside EsViT's terms.
public enum MaskedImageModeling {
    /// Mixes the mask token into the patch embeddings: `x[r] = (1 - w[r]) x[r] + w[r] token` for every
    /// row `r` of `x [rows, C]`, `w [rows]` in {0, 1} (SimMIM's `x * (1 - w) + mask_token * w`).
    public static func mixToken(_ x: inout [Float], token: UnsafePointer<Float>, mask w: [Float], rows: Int, C: Int) {
        precondition(x.count == rows * C && w.count == rows)
        x.withUnsafeMutableBufferPointer { x in
            for r in 0..<rows where w[r] != 0 {
                let keep = 1 - w[r], row = r * C
                for c in 0..<C { x[row + c] = keep * x[row + c] + w[r] * token[c] }
            }
        }
    }

    /// Backward of `mixToken`: `dtoken [C] += Σ_r w[r] dx[r]`, then `dx[r] *= 1 - w[r]` (in place, so
    /// `dx` becomes the gradient of the embeddings before the mix).
    public static func mixTokenBackward(_ dx: inout [Float], dtoken: UnsafeMutablePointer<Float>, mask w: [Float], rows: Int, C: Int) {
        precondition(dx.count == rows * C && w.count == rows)
        dx.withUnsafeMutableBufferPointer { dx in
            for r in 0..<rows where w[r] != 0 {
                let keep = 1 - w[r], row = r * C
                for c in 0..<C {
                    dtoken[c] += w[r] * dx[row + c]
                    dx[row + c] *= keep
                }
            }
        }
    }

    /// PixelShuffle(r) of the decoder's per-token outputs: `tokens [B, g·g, Cin·r·r]` (tokens row-major on
    /// a `g x g` grid, channels in PyTorch's order `c·r·r + i·r + j`) into `images [B, Cin, g·r, g·r]`,
    /// `images[b, c, h·r + i, w·r + j] = tokens[b, h·g + w, c·r·r + i·r + j]`.
    public static func pixelShuffle(_ images: inout [Float], _ tokens: [Float], B: Int, Cin: Int, grid g: Int, r: Int) {
        let S = g * r, OC = Cin * r * r
        precondition(tokens.count == B * g * g * OC && images.count == B * Cin * S * S)
        images.withUnsafeMutableBufferPointer { out in
            tokens.withUnsafeBufferPointer { t in
                for b in 0..<B {
                    for h in 0..<g {
                        for w in 0..<g {
                            let src = (b * g * g + h * g + w) * OC
                            for c in 0..<Cin {
                                for i in 0..<r {
                                    let dst = ((b * Cin + c) * S + h * r + i) * S + w * r
                                    let from = src + c * r * r + i * r
                                    for j in 0..<r { out[dst + j] = t[from + j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// Backward of `pixelShuffle` (a permutation, so its own inverse): `dtokens` from `dimages`.
    public static func pixelUnshuffle(_ tokens: inout [Float], _ images: [Float], B: Int, Cin: Int, grid g: Int, r: Int) {
        let S = g * r, OC = Cin * r * r
        precondition(tokens.count == B * g * g * OC && images.count == B * Cin * S * S)
        tokens.withUnsafeMutableBufferPointer { t in
            images.withUnsafeBufferPointer { img in
                for b in 0..<B {
                    for h in 0..<g {
                        for w in 0..<g {
                            let dst = (b * g * g + h * g + w) * OC
                            for c in 0..<Cin {
                                for i in 0..<r {
                                    let src = ((b * Cin + c) * S + h * r + i) * S + w * r
                                    let to = dst + c * r * r + i * r
                                    for j in 0..<r { t[to + j] = img[src + j] }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// SimMIM's loss: `Σ |pred − target| · m / normalizer` over `pred, target [B, Cin, S, S]`, where
    /// `m` is 1 on the pixels of masked patches (`mask [B, (S/P)²]`, patches of `P x P` pixels
    /// row-major). SimMIM divides by the masked pixels times `Cin`; the trainer passes the whole batch's
    /// count so that lanes add up. Writes `dpred = sign(pred − target) · m / normalizer` (every element).
    /// Returns the loss. A pixel row at a time, 16 pixels to a vector (each row's sum in
    /// `VectorMath.laneSum`'s order, the rows' sums added in order in double precision), each row's
    /// mask spread from its patches once per row of patches.
    public static func maskedL1(dpred: inout [Float], pred: [Float], target: [Float], mask: [Float], B: Int, Cin: Int, S: Int, P: Int,
                                normalizer: Double) -> Double {
        typealias V = SIMD16<Float>
        let g = S / P
        precondition(pred.count == B * Cin * S * S && target.count == pred.count && dpred.count == pred.count && mask.count == B * g * g)
        let scale = Float(1 / normalizer)
        var total = 0.0
        withUnsafeTemporaryAllocation(of: Float.self, capacity: S) { spread in
            let m = spread.baseAddress!
            dpred.withUnsafeMutableBufferPointer { d in
                pred.withUnsafeBufferPointer { p in
                    target.withUnsafeBufferPointer { t in
                        let (d, p, t) = (d.baseAddress!, p.baseAddress!, t.baseAddress!)
                        @inline(__always) func load(_ q: UnsafePointer<Float>) -> V { UnsafeRawPointer(q).loadUnaligned(as: V.self) }
                        for b in 0..<B {
                            for c in 0..<Cin {
                                let plane = (b * Cin + c) * S * S
                                for y in 0..<S {
                                    if y % P == 0 { for x in 0..<S { m[x] = mask[b * g * g + (y / P) * g + x / P] } }
                                    let row = plane + y * S
                                    var sums = V(), x = 0
                                    while x + 16 <= S {
                                        let mv = load(m + x), diff = load(p + row + x) - load(t + row + x)
                                        sums = sums.addingProduct(mv, diff.replacing(with: -diff, where: diff .< 0))
                                        let ms = mv * scale
                                        var dv = ms.replacing(with: -ms, where: .!(diff .> 0))
                                        dv.replace(with: 0, where: (mv .== 0) .| (diff .== 0))
                                        UnsafeMutableRawPointer(d + row + x).storeBytes(of: dv, as: V.self)
                                        x += 16
                                    }
                                    var rowSum = VectorMath.laneSum(sums)
                                    while x < S {
                                        let i = row + x, diff = p[i] - t[i]
                                        rowSum += m[x] * abs(diff)
                                        d[i] = m[x] == 0 || diff == 0 ? 0 : (diff > 0 ? m[x] * scale : -m[x] * scale)
                                        x += 1
                                    }
                                    total += Double(rowSum)
                                }
                            }
                        }
                    }
                }
            }
        }
        return total / normalizer
    }

    /// MAE's normalised pixel target, per `block x block` cell of each channel plane:
    /// `(x − mean) / sqrt(var + 1e-6)` (population variance). `S` must be a multiple of `block`.
    public static func normalizedTarget(_ images: [Float], B: Int, Cin: Int, S: Int, block: Int) -> [Float] {
        var out: [Float] = []
        normalizedTarget(into: &out, images, B: B, Cin: Cin, S: S, block: block)
        return out
    }

    /// `normalizedTarget`, written into `out` (its memory kept when it already holds as many values).
    public static func normalizedTarget(into out: inout [Float], _ images: [Float], B: Int, Cin: Int, S: Int, block: Int) {
        precondition(block > 0 && S % block == 0 && images.count == B * Cin * S * S)
        if out.count != images.count { out = .uninitialized(images.count) }
        out.withUnsafeMutableBufferPointer { o in images.withUnsafeBufferPointer { o.baseAddress!.update(from: $0.baseAddress!, count: $0.count) } }
        let cells = S / block, n = Float(block * block)
        out.withUnsafeMutableBufferPointer { o in
            for plane in 0..<(B * Cin) {
                let base = plane * S * S
                for cy in 0..<cells {
                    for cx in 0..<cells {
                        var sum: Float = 0, sq: Float = 0
                        for y in (cy * block)..<((cy + 1) * block) {
                            for x in (cx * block)..<((cx + 1) * block) { let v = o[base + y * S + x]; sum += v; sq += v * v }
                        }
                        let mean = sum / n, variance = max(0, sq / n - mean * mean)
                        let inv = 1 / (variance + 1e-6).squareRoot()
                        for y in (cy * block)..<((cy + 1) * block) {
                            for x in (cx * block)..<((cx + 1) * block) { o[base + y * S + x] = (o[base + y * S + x] - mean) * inv }
                        }
                    }
                }
            }
        }
    }
}
