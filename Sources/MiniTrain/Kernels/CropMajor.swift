/// Batches laid out crop-major, `[crops, B, width]` (every image of crop 0, then every image of crop
/// 1, ...), as the trainer takes its crops, split into lanes of contiguous images and joined again
/// (`EsViTTrainer.lanes`). `width` is what one image's crop holds (pixels, logits, tokens x K).
public enum CropMajor {
    /// `[crops, n, width]`: images `start ..< start + n` of every crop of `x [crops, B, width]`.
    public static func lane<T>(_ x: [T], crops: Int, images B: Int, start: Int, count n: Int) -> [T] {
        guard crops > 0, B > 0, !x.isEmpty else { return [] }
        precondition(x.count % (crops * B) == 0 && start >= 0 && start + n <= B)
        let width = x.count / (crops * B)
        var out: [T] = []
        out.reserveCapacity(crops * n * width)
        for c in 0..<crops { out.append(contentsOf: x[((c * B + start) * width)..<((c * B + start + n) * width)]) }
        return out
    }

    /// `x[start ..< start + count]` into `out` (its memory kept when it already holds `count` values).
    static func slice(into out: inout [Float], _ x: [Float], start: Int, count: Int) {
        precondition(start >= 0 && count >= 0 && start + count <= x.count)
        if out.count != count { out = .uninitialized(count) }
        out.withUnsafeMutableBufferPointer { o in x.withUnsafeBufferPointer { o.baseAddress!.update(from: $0.baseAddress! + start, count: count) } }
    }

    /// `lane`, written into `out` (its memory kept when it already holds as many values).
    public static func lane(into out: inout [Float], _ x: [Float], crops: Int, images B: Int, start: Int, count n: Int) {
        guard crops > 0, B > 0, !x.isEmpty else { out = []; return }
        precondition(x.count % (crops * B) == 0 && start >= 0 && start + n <= B)
        let width = x.count / (crops * B)
        if out.count != crops * n * width { out = .uninitialized(crops * n * width) }
        out.withUnsafeMutableBufferPointer { o in
            x.withUnsafeBufferPointer { x in
                for c in 0..<crops {
                    (o.baseAddress! + c * n * width).update(from: x.baseAddress! + (c * B + start) * width, count: n * width)
                }
            }
        }
    }

    /// `[crops, Σ images, width]` from lanes `[crops, images[h], width]`, lane 0's images first.
    public static func joined<T>(_ lanes: [[T]], crops: Int, images: [Int]) -> [T] {
        precondition(lanes.count == images.count)
        guard crops > 0, let first = lanes.first, !first.isEmpty, images[0] > 0 else { return lanes.flatMap { $0 } }
        let width = first.count / (crops * images[0])
        var out: [T] = []
        out.reserveCapacity(crops * images.reduce(0, +) * width)
        for c in 0..<crops {
            for (lane, n) in zip(lanes, images) { out.append(contentsOf: lane[(c * n * width)..<((c + 1) * n * width)]) }
        }
        return out
    }
}
