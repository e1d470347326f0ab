import LensData

/// All views of a batch of images, in flat buffers ready for a trainer.
public struct ViewBatch: Sendable {
    public var count: Int
    public var channels: Int
    public var globalViews: Int
    public var globalSize: Int
    public var localViews: Int
    public var localSize: Int
    /// `[N, G, C, S, S]`
    public var global: [Float]
    /// `[N, L, C, s, s]`
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
        /// Share of candidates accepted.
        public var acceptance: Double { candidates > 0 ? Double(views - fallbacks - noForeground) / Double(max(1, candidates - noForegroundCandidates)) : 1 }
        public var meanRetries: Double { views > 0 ? Double(retries) / Double(views) : 0 }
        var retries = 0
        var noForegroundCandidates = 0

        enum CodingKeys: String, CodingKey { case views, candidates, fallbacks, noForeground = "no_foreground", acceptance, meanRetries = "mean_retries" }

        public init() {}

        public func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encode(views, forKey: .views)
            try c.encode(candidates, forKey: .candidates)
            try c.encode(fallbacks, forKey: .fallbacks)
            try c.encode(noForeground, forKey: .noForeground)
            try c.encode(acceptance, forKey: .acceptance)
            try c.encode(meanRetries, forKey: .meanRetries)
        }

    }

    public var global = Kind()
    public var local = Kind()

    public init(records: [[PairSampler.ViewRecord]]) {
        for r in records.joined() {
            var k = r.isGlobal ? global : local
            k.views += 1
            let tried = r.fallback ? r.retries : r.retries + 1
            k.candidates += tried
            k.retries += r.retries
            if r.fallback { k.fallbacks += 1 }
            if r.noForeground { k.noForeground += 1; k.noForegroundCandidates += tried }
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
    public func makeBatch(images: [LensImage], samples: [Int], epoch: Int, threads: Int, maps: [ForegroundMap]? = nil,
                          recordRejected: Bool = false) -> ViewBatch {
        precondition(images.count == samples.count, "one sample index per image")
        let C = images.first?.channels ?? 1
        precondition(images.allSatisfy { $0.channels == C }, "all images of a batch need the same channel count")
        let G = recipe.global.count, S = recipe.global.map(\.size).max() ?? 1
        precondition(recipe.global.allSatisfy { $0.size == S }, "global views must share one size")
        let L = recipe.local.count, s = recipe.local.size
        let gStride = G * C * S * S, lStride = L * C * s * s
        var global = [Float](repeating: 0, count: images.count * gStride)
        var local = [Float](repeating: 0, count: images.count * lStride)
        var records: [[ViewRecord]] = []
        global.withUnsafeMutableBufferPointer { gb in
            local.withUnsafeMutableBufferPointer { lb in
                // Each image writes only its own [k * stride, (k + 1) * stride) ranges.
                nonisolated(unsafe) let gAll = gb
                nonisolated(unsafe) let lAll = lb
                records = ParallelRunner.map(count: images.count, chunkSize: 4, threads: threads) { range -> [[ViewRecord]] in
                    range.map { k in
                        let map = maps?[k] ?? foregroundMap(images[k])
                        return makeViews(image: images[k], map: map, epoch: epoch, sample: samples[k],
                                         global: UnsafeMutableBufferPointer(rebasing: gAll[(k * gStride)..<((k + 1) * gStride)]),
                                         local: UnsafeMutableBufferPointer(rebasing: lAll[(k * lStride)..<((k + 1) * lStride)]),
                                         recordRejected: recordRejected)
                    }
                }.flatMap { $0 }
            }
        }
        return ViewBatch(count: images.count, channels: C, globalViews: G, globalSize: S, localViews: L, localSize: s,
                         global: global, local: local, records: records)
    }
}
