import LensData

/// The first pass over a sample of a data set: the automatic window size and data-set-wide
/// normalisation statistics.
public struct CropCalibration: Sendable, Equatable {
    /// The smallest even window, centred on the foreground centroid, that holds the whole foreground
    /// of `coverage` of the sampled images.
    public var autoSize: Int
    public var stats: Normalization.DatasetStats
    public var sampled: Int
    /// The shorter side of the largest sampled image.
    public var extent: Int
    /// The Spearman correlation, over the sampled images, between each image's sky level (its outer
    /// 6 px's mean, `borderMean`) and its lens brightness (nil with fewer than 8 images that have both). Near 1 when the exposure varies per
    /// image (counts: sky and lens scale together); near 0 for flux-calibrated stamps, where an
    /// image's brightness is physical signal (`scripts/exposure_correlation.py`, docs/science.md).
    public var exposureCorrelation: Double? = nil

    /// Above this `exposureCorrelation`, `--normalize auto` scales each image by its own lens brightness.
    public static let exposureCorrelationThreshold = 0.5

    /// `--normalize auto`: `lens` (each image's own lens scale) when the exposure varies per image,
    /// else `lens-dataset` (one scale for the data set, which keeps each image's brightness).
    public var automaticNormalization: Normalization {
        (exposureCorrelation ?? 0) > Self.exposureCorrelationThreshold ? .lens : .lensFlux(stats)
    }

    /// The default window: `autoSize`, but never below the network's global view
    /// (`CropConfig.defaultMinimumWindow`) nor above the images.
    public var defaultSize: Int { extent > 0 ? min(extent, max(autoSize, CropConfig.defaultMinimumWindow)) : autoSize }

    /// Samples up to `sample` images evenly spread over the source.
    /// - Parameters:
    ///   - coverage: the share of images whose foreground must fit (default 0.99).
    ///   - maxSize: the result is capped at the images' own size.
    public static func run(source: any SampleSource, config: CropConfig, sample: Int = 512, coverage: Double = 0.99,
                           threads: Int) -> CropCalibration {
        run(count: source.count, image: { try? source.sample(at: $0).image }, config: config, sample: sample, coverage: coverage, threads: threads)
    }

    /// The same pass over images already in memory.
    public static func run(images: [LensImage], config: CropConfig, sample: Int = 512, coverage: Double = 0.99,
                           threads: Int) -> CropCalibration {
        run(count: images.count, image: { images[$0] }, config: config, sample: sample, coverage: coverage, threads: threads)
    }

    /// The name of the choice `automaticNormalization` makes (`--normalize auto`).
    public static let automaticName = "auto"

    /// The normalisation called `name` (one of `Normalization.names`, or `automaticName`) for `images`:
    /// a `-dataset` variant gets its statistics from a calibration pass over them, `auto` its choice.
    /// Nil for an unknown name.
    public static func normalization(named name: String, images: [LensImage], config: CropConfig, threads: Int) -> Normalization? {
        if name == automaticName { return run(images: images, config: config, threads: threads).automaticNormalization }
        guard Normalization.needsDatasetStats(name) else { return Normalization(name: name) }
        return Normalization(name: name, stats: run(images: images, config: config, threads: threads).stats)
    }

    static func run(count n: Int, image: @Sendable (Int) -> LensImage?, config: CropConfig, sample: Int, coverage: Double,
                    threads: Int) -> CropCalibration {
        let step = max(1, n / max(1, sample))
        let indices = Array(stride(from: 0, to: n, by: step).prefix(sample))
        struct Part: Sendable {
            var needs: [Int] = [], lows: [Float] = [], highs: [Float] = [], bgs: [Float] = [], sigmas: [Float] = [], fluxes: [Float] = []
            /// Sky level and lens brightness of the images that have both.
            var pairedSky: [Float] = [], pairedFlux: [Float] = []
            var extent = 0
        }
        let detector = ForegroundDetector(config: config)
        let parts = ParallelRunner.map(count: indices.count, chunkSize: 16, threads: threads) { range -> Part in
            var p = Part()
            for k in range {
                guard let img = image(indices[k]) else { continue }
                let plane = img.channelSum()
                let fg = detector.detect(plane: plane, width: img.width, height: img.height)
                p.extent = max(p.extent, min(img.width, img.height))
                if let b = fg.box {
                    let half = max(fg.centroidX - Float(b.x0), Float(b.x1) - fg.centroidX,
                                   fg.centroidY - Float(b.y0), Float(b.y1) - fg.centroidY)
                    p.needs.append(Int((2 * half).rounded(.up)))
                }
                let finite = img.pixels.filter(\.isFinite)
                if let lo = finite.min(), let hi = finite.max() { p.lows.append(lo); p.highs.append(hi) }
                if let flux = Self.lensBrightness(plane: plane, foreground: fg) {
                    p.fluxes.append(flux / Float(img.channels))
                    p.pairedSky.append(Self.borderMean(plane, width: img.width, height: img.height))
                    p.pairedFlux.append(flux)
                }
                p.bgs.append(fg.background.level / Float(img.channels))
                p.sigmas.append(fg.background.sigma / Float(img.channels).squareRoot())
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
                                               background: median(parts.flatMap(\.bgs)), sigma: median(parts.flatMap(\.sigmas)),
                                               flux: parts.flatMap(\.fluxes).isEmpty ? nil : median(parts.flatMap(\.fluxes)))
        let (sky, flux) = (parts.flatMap(\.pairedSky), parts.flatMap(\.pairedFlux))
        return CropCalibration(autoSize: max(4, size), stats: stats, sampled: indices.count, extent: extent,
                               exposureCorrelation: sky.count >= 8 ? Self.spearman(sky, flux) : nil)
    }

    /// The mean of the outer 6 px of `plane` (a quarter of the shorter side on smaller images): the
    /// light an exposure adds everywhere, sky and faint wings, which the clipped sky median misses on
    /// counts whose sky is mostly 0.
    static func borderMean(_ plane: [Float], width W: Int, height H: Int) -> Float {
        let b = max(1, min(6, min(W, H) / 4))
        var sum: Double = 0, n = 0
        for y in 0..<H {
            let edgeRow = y < b || y >= H - b
            for x in 0..<W where edgeRow || x < b || x >= W - b { sum += Double(plane[y * W + x]); n += 1 }
        }
        return n > 0 ? Float(sum / Double(n)) : 0
    }

    /// Spearman's rank correlation of `a` and `b` (tied values take their mean rank); 0 when either is constant.
    static func spearman(_ a: [Float], _ b: [Float]) -> Double {
        func ranks(_ v: [Float]) -> [Double] {
            let order = v.indices.sorted { v[$0] < v[$1] }
            var r = [Double](repeating: 0, count: v.count), i = 0
            while i < order.count {
                var j = i
                while j + 1 < order.count && v[order[j + 1]] == v[order[i]] { j += 1 }
                for k in i...j { r[order[k]] = Double(i + j) / 2 }
                i = j + 1
            }
            return r
        }
        let (x, y) = (ranks(a), ranks(b)), n = Double(x.count)
        let (mx, my) = (x.reduce(0, +) / n, y.reduce(0, +) / n)
        var (sxy, sxx, syy) = (0.0, 0.0, 0.0)
        for i in x.indices { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) * (x[i] - mx); syy += (y[i] - my) * (y[i] - my) }
        return sxx > 0 && syy > 0 ? sxy / (sxx * syy).squareRoot() : 0
    }

    /// The 99th percentile of the foreground pixels of `plane` above the sky (nil without a foreground
    /// or when it is not above the sky).
    static func lensBrightness(plane: [Float], foreground fg: Foreground) -> Float? {
        var above: [Float] = []
        for i in plane.indices where fg.mask[i] && plane[i].isFinite { above.append(plane[i] - fg.background.level) }
        guard !above.isEmpty else { return nil }
        above.sort()
        let v = above[min(above.count - 1, Int(0.99 * Double(above.count)))]
        return v.isFinite && v > 0 ? v : nil
    }
}
