import LensData

/// The first pass over a sample of a data set: the automatic window size and data-set-wide
/// normalisation statistics.
public struct CropCalibration: Sendable, Equatable {
    /// The smallest even window, centred on the foreground centroid, that holds the whole foreground
    /// of `coverage` of the sampled images.
    public var autoSize: Int
    public var stats: Normalization.DatasetStats
    public var sampled: Int

    /// Samples up to `sample` images evenly spread over the source.
    /// - Parameters:
    ///   - coverage: the share of images whose foreground must fit (default 0.99).
    ///   - maxSize: the result is capped at the images' own size.
    public static func run(source: any SampleSource, config: CropConfig, sample: Int = 512, coverage: Double = 0.99,
                           threads: Int) -> CropCalibration {
        let n = source.count
        let step = max(1, n / max(1, sample))
        let indices = Array(stride(from: 0, to: n, by: step).prefix(sample))
        struct Part: Sendable { var needs: [Int] = []; var lows: [Float] = []; var highs: [Float] = []; var bgs: [Float] = []; var sigmas: [Float] = []; var extent = 0 }
        let detector = ForegroundDetector(config: config)
        let parts = ParallelRunner.map(count: indices.count, chunkSize: 16, threads: threads) { range -> Part in
            var p = Part()
            for k in range {
                guard let s = try? source.sample(at: indices[k]) else { continue }
                let plane = s.image.channelSum()
                let fg = detector.detect(plane: plane, width: s.image.width, height: s.image.height)
                p.extent = max(p.extent, min(s.image.width, s.image.height))
                if let b = fg.box {
                    let half = max(fg.centroidX - Float(b.x0), Float(b.x1) - fg.centroidX,
                                   fg.centroidY - Float(b.y0), Float(b.y1) - fg.centroidY)
                    p.needs.append(Int((2 * half).rounded(.up)))
                }
                let finite = s.image.pixels.filter(\.isFinite)
                if let lo = finite.min(), let hi = finite.max() { p.lows.append(lo); p.highs.append(hi) }
                p.bgs.append(fg.background.level / Float(s.image.channels))
                p.sigmas.append(fg.background.sigma / Float(s.image.channels).squareRoot())
            }
            return p
        }
        let needs = parts.flatMap(\.needs).sorted()
        let extent = parts.map(\.extent).max() ?? config.size
        var size = config.size
        if !needs.isEmpty {
            let idx = min(needs.count - 1, Int((coverage * Double(needs.count)).rounded(.up)) - 1)
            size = min(extent, needs[max(0, idx)] + needs[max(0, idx)] % 2)
        }
        func median(_ v: [Float]) -> Float { v.isEmpty ? 0 : v.sorted()[v.count / 2] }
        let stats = Normalization.DatasetStats(low: parts.flatMap(\.lows).min() ?? 0, high: parts.flatMap(\.highs).max() ?? 1,
                                               background: median(parts.flatMap(\.bgs)), sigma: median(parts.flatMap(\.sigmas)))
        return CropCalibration(autoSize: max(4, size), stats: stats, sampled: indices.count)
    }
}
