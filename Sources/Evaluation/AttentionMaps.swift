import LensData
import MiniTrain
import PairSampler

/// What the last stage of a frozen EsViT backbone looks at, per image (`lenspipe attention`).
///
/// All maps live on the last stage's token grid (`side x side`, e.g. 4 x 4 for 64 px inputs) and, for
/// attention, sum to 1 over the grid:
/// - `queryAveraged[h]`: head h's attention received by each token, averaged over all query tokens;
/// - `brightest[h]`: head h's attention row of the query token whose footprint is brightest;
/// - `similarity`: cosine similarity of each output token to the image's pooled feature;
/// - `foreground`: the share of each token's footprint that is foreground (the lens).
/// The lens-attention ratio of a map is `Σ_t map[t] · fg[t] / mean_t fg[t]`: the attention mass on the
/// foreground divided by the foreground's share of the area (1 = no preference for the lens, larger =
/// attends to the lens). Undefined (nil) for an image without foreground.
public struct AttentionMaps: Sendable {
    public var side: Int
    public var heads: Int
    public var queryAveraged: [[Float]]
    public var brightest: [[Float]]
    public var similarity: [Float]
    public var foreground: [Float]
    /// The resampled network input `[S, S]` (channel mean), for drawing.
    public var input: [Float]
    public var inputSize: Int

    /// Foreground share of the image's area.
    public var foregroundArea: Float { foreground.reduce(0, +) / Float(max(foreground.count, 1)) }

    /// The lens-attention ratio of `map` (see the type's notes).
    public func lensRatio(_ map: [Float]) -> Double? {
        let area = Double(foregroundArea)
        guard area > 0 else { return nil }
        let mass = zip(map, foreground).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
        return mass / area
    }

    /// The mean over heads of the query-averaged maps.
    public var meanQueryAveraged: [Float] { Self.meanOf(queryAveraged) }
    public var meanBrightest: [Float] { Self.meanOf(brightest) }

    static func meanOf(_ maps: [[Float]]) -> [Float] {
        guard let first = maps.first else { return [] }
        var m = [Float](repeating: 0, count: first.count)
        for map in maps { for i in m.indices { m[i] += map[i] / Float(maps.count) } }
        return m
    }

    /// Maps of `images` (each with its foreground mask at the image's own size), batched through the
    /// teacher or student in `arena`, resampled whole to `size` as `embed` does.
    public static func compute(images: [LensImage], masks: [[Bool]], network: EsViTNetwork, arena: ParameterArena, size S: Int,
                               batch: Int = 32) -> [AttentionMaps] {
        let c = network.config
        let stage = c.stages - 1, block = c.depths[stage] - 1
        var out: [AttentionMaps] = []
        for first in stride(from: 0, to: images.count, by: batch) {
            let part = Array(images[first..<min(images.count, first + batch)])
            let B = part.count
            var pixels = [Float]()
            for image in part { pixels += PairSampler.wholeView(image, size: S) }
            let o = network.forward(arena, images: pixels, batch: B, size: S, forBackward: false)
            let probs = o.backbone.attention(stage: stage, block: block)
            let (perm, side, ws, H) = o.backbone.attentionLayout(stage: stage, block: block)
            let L = side * side, N = ws * ws, D = c.finalDim
            let tokens = o.backbone.tokensOut
            for b in 0..<B {
                var q = [[Float]](repeating: [Float](repeating: 0, count: L), count: H)
                var bright = [[Float]](repeating: [Float](repeating: 0, count: L), count: H)
                // Input channel mean at S x S, and each token's footprint brightness.
                let cin = c.inChannels
                var input = [Float](repeating: 0, count: S * S)
                for ch in 0..<cin { for i in 0..<(S * S) { input[i] += pixels[(b * cin + ch) * S * S + i] / Float(cin) } }
                let foot = S / side
                var brightness = [Float](repeating: 0, count: L)
                for y in 0..<S { for x in 0..<S { brightness[(y / foot) * side + x / foot] += input[y * S + x] } }
                let brightestToken = brightness.indices.max { brightness[$0] < brightness[$1] } ?? 0
                // Windows of image b: rows (b·nW + w)·N + i of the window layout.
                let nW = L / N
                for w in 0..<nW {
                    let win = b * nW + w
                    for i in 0..<N {
                        let qi = Int(perm[win * N + i]) - b * L
                        for hh in 0..<H {
                            let row = ((win * H + hh) * N + i) * N
                            for j in 0..<N {
                                let tj = Int(perm[win * N + j]) - b * L
                                let p = probs[row + j]
                                q[hh][tj] += p / Float(L)
                                if qi == brightestToken { bright[hh][tj] += p }
                            }
                        }
                    }
                }
                // Cosine similarity of each token to the pooled feature.
                var sim = [Float](repeating: 0, count: L)
                let pooled = Array(o.pooled[(b * D)..<((b + 1) * D)])
                let pn = pooled.reduce(0) { $0 + $1 * $1 }.squareRoot()
                for t in 0..<L {
                    var dot: Float = 0, tn: Float = 0
                    for d in 0..<D { let v = tokens[(b * L + t) * D + d]; dot += v * pooled[d]; tn += v * v }
                    sim[t] = dot / max(tn.squareRoot() * pn, 1e-12)
                }
                let fg = Self.footprintShare(masks[first + b], width: part[b].width, height: part[b].height, side: side)
                out.append(AttentionMaps(side: side, heads: H, queryAveraged: q, brightest: bright, similarity: sim, foreground: fg,
                                         input: input, inputSize: S))
            }
        }
        return out
    }

    /// Share of foreground pixels in each of `side x side` equal cells of a `width x height` mask
    /// (the cells the whole-image resampling maps onto the token grid).
    static func footprintShare(_ mask: [Bool], width: Int, height: Int, side: Int) -> [Float] {
        var count = [Float](repeating: 0, count: side * side), fg = [Float](repeating: 0, count: side * side)
        guard mask.count == width * height else { return fg }
        for y in 0..<height {
            for x in 0..<width {
                let t = min(side - 1, y * side / height) * side + min(side - 1, x * side / width)
                count[t] += 1
                if mask[y * width + x] { fg[t] += 1 }
            }
        }
        return zip(fg, count).map { $1 > 0 ? $0 / $1 : 0 }
    }
}
