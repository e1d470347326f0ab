import LensData

/// All views of a batch of images, in flat buffers ready for a trainer.
public struct ViewBatch: Sendable {
    /// How the views of a batch are ordered in `global` and `local`.
    public enum Layout: Sendable {
        /// `[N, G, C, S, S]`: all views of image 0, then image 1 (previews, exports).
        case imageMajor
        /// `[G, N, C, S, S]`: view 0 of every image, then view 1 (what MiniTrain's step takes).
        case cropMajor
    }

    public var layout: Layout = .imageMajor
    public var count: Int
    public var channels: Int
    public var globalViews: Int
    public var globalSize: Int
    public var localViews: Int
    public var localSize: Int
    /// `[N, G, C, S, S]` (`.cropMajor`: `[G, N, C, S, S]`)
    public var global: [Float]
    /// `[N, L, C, s, s]` (`.cropMajor`: `[L, N, C, s, s]`)
    public var local: [Float]
    /// Per image, per view.
    public var records: [[PairSampler.ViewRecord]]

    public var stats: ViewStats { ViewStats(records: records) }
}

/// Acceptance statistics of rejection sampling, per view type.
public struct ViewStats: Encodable, Sendable, Equatable {
    public struct Kind: Encodable, Sendable, Equatable {
        public var views = 0
        /// Candidate crops tested (accepted or not).
        public var candidates = 0
        public var fallbacks = 0
        /// Views of images without any foreground (plain crops).
        public var noForeground = 0
        /// Share of candidates accepted, over the views of images that have a foreground.
        public var acceptance: Double { candidates > 0 ? Double(views - fallbacks - noForeground) / Double(max(1, candidates - noForegroundCandidates)) : 1 }
        /// Rejected candidates per view, over the same views and draws as `acceptance` (without
        /// fallbacks, `acceptance = 1 / (1 + meanRetries)`); views of images without foreground are
        /// plain crops, counted in `noForeground` only.
        public var meanRetries: Double {
            let withForeground = views - noForeground
            return withForeground > 0 ? Double(candidates - noForegroundCandidates - (views - fallbacks - noForeground)) / Double(withForeground) : 0
        }
        /// Views whose crop fails the rejection test, over the views of images with a foreground
        /// (`PairSampler.ViewRecord.wouldReject`): with rejection off, the views it would have redrawn.
        public var wouldReject = 0
        /// `wouldReject` as a share of the views of images with a foreground.
        public var wouldRejectShare: Double { views > noForeground ? Double(wouldReject) / Double(views - noForeground) : 0 }
        var retries = 0
        var noForegroundCandidates = 0

        enum CodingKeys: String, CodingKey {
            case views, candidates, fallbacks, noForeground = "no_foreground", acceptance, meanRetries = "mean_retries"
            case wouldReject = "would_reject", wouldRejectShare = "would_reject_share"
        }

        public init() {}

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(views, forKey: .views)
            try c.encode(candidates, forKey: .candidates)
            try c.encode(fallbacks, forKey: .fallbacks)
            try c.encode(noForeground, forKey: .noForeground)
            try c.encode(acceptance, forKey: .acceptance)
            try c.encode(meanRetries, forKey: .meanRetries)
            try c.encode(wouldReject, forKey: .wouldReject)
            try c.encode(wouldRejectShare, forKey: .wouldRejectShare)
        }

    }

    public var global = Kind()
    public var local = Kind()
    /// Images whose foreground was empty (their views are plain crops).
    public var imagesWithoutForeground = 0

    enum CodingKeys: String, CodingKey {
        case global, local, acceptance, imagesWithoutForeground = "images_without_foreground"
        case wouldReject = "would_reject", wouldRejectShare = "would_reject_share"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(global, forKey: .global)
        try c.encode(local, forKey: .local)
        try c.encode(acceptance, forKey: .acceptance)
        try c.encode(imagesWithoutForeground, forKey: .imagesWithoutForeground)
        try c.encode(wouldReject, forKey: .wouldReject)
        try c.encode(wouldRejectShare, forKey: .wouldRejectShare)
    }

    /// Views (both kinds) whose crop fails the rejection test, on images with a foreground.
    public var wouldReject: Int { global.wouldReject + local.wouldReject }
    /// `wouldReject` over the views of images with a foreground.
    public var wouldRejectShare: Double {
        let withForeground = global.views - global.noForeground + local.views - local.noForeground
        return withForeground > 0 ? Double(wouldReject) / Double(withForeground) : 0
    }

    public init(records: [[PairSampler.ViewRecord]]) {
        imagesWithoutForeground = records.filter { $0.first?.noForeground == true }.count
        for r in records.joined() {
            var k = r.isGlobal ? global : local
            k.views += 1
            let tried = r.fallback ? r.retries : r.retries + 1
            k.candidates += tried
            k.retries += r.retries
            if r.fallback { k.fallbacks += 1 }
            if r.noForeground { k.noForeground += 1; k.noForegroundCandidates += tried }
            if r.wouldReject { k.wouldReject += 1 }
            if r.isGlobal { global = k } else { local = k }
        }
    }

    /// Candidate-weighted acceptance over both kinds.
    public var acceptance: Double {
        let accepted = global.views - global.fallbacks - global.noForeground + local.views - local.fallbacks - local.noForeground
        let tried = global.candidates - global.noForegroundCandidates + local.candidates - local.noForegroundCandidates
        return tried > 0 ? Double(accepted) / Double(tried) : 1
    }
}

extension PairSampler {
    /// Makes all views of `images` on `threads` threads. Image `k` uses sample index `samples[k]` for
    /// its random streams, so a view is the same whatever the batch composition or thread count.
    /// - Parameter maps: foreground maps, if already computed (one per image).
    /// - Parameter layout: `.cropMajor` writes the `[G, N, ...]` order a trainer takes, without a copy.
    public func makeBatch(images: [LensImage], samples: [Int], epoch: Int, threads: Int, maps: [ForegroundMap]? = nil,
                          layout: ViewBatch.Layout = .imageMajor, recordRejected: Bool = false) -> ViewBatch {
        precondition(images.count == samples.count, "one sample index per image")
        let C = images.first?.channels ?? 1
        precondition(images.allSatisfy { $0.channels == C }, "all images of a batch need the same channel count")
        let G = recipe.global.count, S = recipe.global.map(\.size).max() ?? 1
        precondition(recipe.global.allSatisfy { $0.size == S }, "global views must share one size")
        let L = recipe.local.count, s = recipe.local.size
        let N = images.count
        // Per image: where its first view starts, and the distance between its views.
        let (gFirst, gStep, lFirst, lStep) = layout == .imageMajor ? (G * C * S * S, C * S * S, L * C * s * s, C * s * s)
                                                                     : (C * S * S, N * C * S * S, C * s * s, N * C * s * s)
        var global = [Float](repeating: 0, count: N * G * C * S * S)
        var local = [Float](repeating: 0, count: N * L * C * s * s)
        var records: [[ViewRecord]] = []
        global.withUnsafeMutableBufferPointer { gb in
            local.withUnsafeMutableBufferPointer { lb in
                // Each image writes only its own views (disjoint ranges whatever the layout).
                nonisolated(unsafe) let gAll = gb
                nonisolated(unsafe) let lAll = lb
                records = ParallelRunner.map(count: images.count, chunkSize: 4, threads: threads) { range -> [[ViewRecord]] in
                    range.map { k in
                        let map = maps?[k] ?? foregroundMap(images[k])
                        return makeViews(image: images[k], map: map, epoch: epoch, sample: samples[k],
                                         global: UnsafeMutableBufferPointer(rebasing: gAll[min(k * gFirst, gAll.count)...]),
                                         local: UnsafeMutableBufferPointer(rebasing: lAll[min(k * lFirst, lAll.count)...]),
                                         globalStride: gStep, localStride: lStep, recordRejected: recordRejected)
                    }
                }.flatMap { $0 }
            }
        }
        return ViewBatch(layout: layout, count: images.count, channels: C, globalViews: G, globalSize: S, localViews: L, localSize: s,
                         global: global, local: local, records: records)
    }
}

extension PairSampler {
    /// The whole image resampled to `size x size` with no augmentation: `[C, size, size]`, what
    /// inference (embeddings, the k-NN monitor, attention maps) feeds the network.
    public static func wholeView(_ image: LensImage, size S: Int) -> [Float] {
        let C = image.channels, (W, H) = (image.width, image.height)
        if W == S && H == S { return image.pixels }
        var out = [Float](repeating: 0, count: C * S * S)
        let crop = CropGeometry(centerX: Double(W) / 2, centerY: Double(H) / 2, width: Double(W), height: Double(H), angle: 0)
        image.pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for c in 0..<C {
                    ViewRenderer.resample(UnsafeBufferPointer(rebasing: src[(c * W * H)..<((c + 1) * W * H)]), width: W, height: H, crop: crop, size: S,
                                          into: UnsafeMutableBufferPointer(rebasing: dst[(c * S * S)..<((c + 1) * S * S)]))
                }
            }
        }
        return out
    }
}
