import Foundation
import MiniTrain
import Render

/// Attention per class (`lenspipe attention`): each image's head-mean attention map, upsampled to the
/// input's pixels and shifted so that its lens centre is the stamp's centre, averaged over the images
/// of each class; the class's lens-attention ratios (overall and per head) with their spread; and each
/// class's mean map minus the mean of the other classes' (what is particular to it).
public struct ClassAttention: Codable, Sendable {
    public var label: String
    public var images: Int
    /// Mean and standard deviation over the class's images of the lens-attention ratio (heads' mean),
    /// and of each head's (nil: no image of the class has foreground).
    public var ratioMean: Double?
    public var ratioStd: Double?
    public var ratioPerHeadMean: [Double?]
    public var ratioPerHeadStd: [Double?]

    /// The class's centred mean stamp and mean attention `[S, S]`, and its difference to the other
    /// classes (not in the JSON: the figure draws them).
    public var meanImage: [Float] = []
    public var meanMap: [Float] = []
    public var difference: [Float] = []

    enum CodingKeys: String, CodingKey {
        case label, images
        case ratioMean = "ratio_mean", ratioStd = "ratio_std", ratioPerHeadMean = "ratio_per_head_mean", ratioPerHeadStd = "ratio_per_head_std"
    }

    static func meanStd(_ xs: [Double]) -> (Double?, Double?) {
        guard !xs.isEmpty else { return (nil, nil) }
        let m = xs.reduce(0, +) / Double(xs.count)
        let v = xs.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(max(1, xs.count - 1))
        return (m, xs.count > 1 ? v.squareRoot() : nil)
    }

    /// `map` (`[side, side]`) upsampled bilinearly (cell-centred) to `[S, S]` and shifted by
    /// (`dx`, `dy`) px, zero where the shift uncovers.
    static func centred(_ map: [Float], side: Int, size S: Int, dx: Int, dy: Int) -> [Float] {
        var out = [Float](repeating: 0, count: S * S)
        for y in 0..<S {
            for x in 0..<S {
                let sx = x - dx, sy = y - dy
                guard sx >= 0, sy >= 0, sx < S, sy < S else { continue }
                out[y * S + x] = side == S ? map[sy * S + sx] : AttentionSheet.upsampled(map, side: side, x: sx, y: sy, size: S)
            }
        }
        return out
    }

    /// The shift that brings a map's lens centre (the foreground-weighted centre of its token grid) to
    /// the centre of an `S x S` stamp; zero without foreground.
    static func shift(foreground fg: [Float], side: Int, size S: Int) -> (dx: Int, dy: Int) {
        let total = fg.reduce(0, +)
        guard total > 0 else { return (0, 0) }
        var cx = 0.0, cy = 0.0
        for t in fg.indices {
            cx += Double(fg[t]) * (Double(t % side) + 0.5)
            cy += Double(fg[t]) * (Double(t / side) + 0.5)
        }
        let scale = Double(S) / Double(side)
        return (Int((Double(S) / 2 - cx / Double(total) * scale).rounded()), Int((Double(S) / 2 - cy / Double(total) * scale).rounded()))
    }

    /// One entry per label (in order of first appearance; unlabelled images are left out).
    static func compute(maps: [AttentionMaps], rows: [AttentionStudy.ImageReport]) -> [ClassAttention] {
        var order: [String] = []
        for r in rows { if let l = r.label, !order.contains(l) { order.append(l) } }
        guard let first = maps.first else { return [] }
        let S = first.inputSize, H = first.heads
        var classes: [ClassAttention] = order.map { label in
            let members = rows.indices.filter { rows[$0].label == label }
            var image = [Float](repeating: 0, count: S * S), map = [Float](repeating: 0, count: S * S)
            for i in members {
                let m = maps[i]
                let (dx, dy) = shift(foreground: m.foreground, side: m.side, size: S)
                let a = centred(m.input, side: S, size: S, dx: dx, dy: dy), b = centred(m.meanQueryAveraged, side: m.side, size: S, dx: dx, dy: dy)
                for p in 0..<(S * S) { image[p] += a[p] / Float(members.count); map[p] += b[p] / Float(members.count) }
            }
            let (mean, std) = meanStd(members.compactMap { rows[$0].ratio })
            let perHead = (0..<H).map { h in meanStd(members.compactMap { rows[$0].ratioPerHead[h] }) }
            var c = ClassAttention(label: label, images: members.count, ratioMean: mean, ratioStd: std,
                                   ratioPerHeadMean: perHead.map(\.0), ratioPerHeadStd: perHead.map(\.1))
            (c.meanImage, c.meanMap) = (image, map)
            return c
        }
        for k in classes.indices {
            let others = classes.indices.filter { $0 != k }
            classes[k].difference = (0..<(S * S)).map { p in
                others.isEmpty ? 0 : classes[k].meanMap[p] - others.reduce(0) { $0 + classes[$1].meanMap[p] } / Float(others.count)
            }
        }
        return classes
    }

    /// The per-class figure: one row per class (its ratio and spread beside it), the centred mean
    /// stamp, its mean attention, and that minus the other classes' mean.
    static func figure(_ classes: [ClassAttention], heads: Int, network: NetworkChoice) -> AttentionSheet {
        func fmt(_ v: Double?) -> String { v.map { String(format: "%.2f", $0) } ?? "n/a" }
        let S = Int(Double(classes.first?.meanImage.count ?? 0).squareRoot())
        let rows = classes.map { c in
            AttentionSheet.Row(label: [c.label, "\(c.images) images", "lens ratio \(fmt(c.ratioMean)) ± \(fmt(c.ratioStd))"],
                               image: c.meanImage, size: S, maps: [nil, c.meanMap, c.difference])
        }
        var sheet = AttentionSheet(title: "Attention per class (\(network.rawValue), mean of \(heads) heads), each stamp centred on its lens before averaging\nLens ratio: attention on the lens / the lens's share of the area, mean ± standard deviation over the class's images (1 = no preference). The last column is the class's mean map minus the other classes' mean: bright where this class draws more attention.",
                                   columnTitles: ["mean stamp", "mean attention", "minus other classes"], rows: rows, tile: 200)
        sheet.colourBar = ("low", "high", "Grey: the class's mean stamp. Colour: attention, each map scaled to its own range (in the last column, low = less than the other classes).")
        return sheet
    }
}
