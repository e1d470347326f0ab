import Cropping
import Foundation
import LensData
import Synchronization

/// Makes multi-crop SSL views (global + local) of lensing images, rejecting crops that hold too little
/// of the lens, deterministically per (seed, epoch, sample, view).
///
///     let sampler = PairSampler(recipe: ViewRecipe(), seed: 42)
///     let batch = sampler.makeBatch(images: images, samples: Array(0..<images.count), epoch: 0, threads: 2)
///     // batch.global: [N, 2, C, 64, 64]; batch.local: [N, 4, C, 32, 32]
public struct PairSampler: Sendable {
    public var recipe: ViewRecipe
    public var seed: UInt64
    /// How the foreground (the lens) is found when no mask is stored: `Cropping`'s detector.
    public var foreground: CropConfig
    /// The normalisation the images already carry (`lenspipe.json` of preprocessed shards): asinh and
    /// log1p are undone before detection and for the flux weights of rejection sampling.
    public var stretch: Normalization

    public init(recipe: ViewRecipe, seed: UInt64, foreground: CropConfig = CropConfig(), stretch: Normalization = .none) {
        self.recipe = recipe
        self.seed = seed
        self.foreground = foreground
        self.stretch = stretch
    }

    /// What happened for one view.
    public struct ViewRecord: Sendable, Codable, Equatable {
        public var view: Int
        public var isGlobal: Bool
        public var crop: CropGeometry
        public var dihedral: Int
        /// Candidates drawn before one was accepted (0: the first was).
        public var retries: Int
        /// The constructive fallback placed this crop (rejection gave up).
        public var fallback: Bool
        /// The image had no foreground: a plain crop, no rejection.
        public var noForeground: Bool
        /// Foreground flux share and foreground pixel fraction of the final crop.
        public var fluxShare: Double
        public var pixelFraction: Double
        /// The final crop fails the rejection test (too little lens flux or too few foreground
        /// pixels) on an image with a foreground: with rejection off, a view rejection would have
        /// redrawn (a sky-only view, say); with it on, only a fallback can.
        public var wouldReject = false
        /// Rejected candidates (recorded only when asked, for `preview --show-rejected`).
        public var rejected: [CropGeometry]
    }

    /// The foreground map of an image (compute once per image, reuse for every view and epoch): from
    /// `mask` when given (the shards' `foreground` column; `background`: the image's background estimate,
    /// if known), else detected.
    public func foregroundMap(_ image: LensImage, mask: [Bool]? = nil, background: BackgroundEstimate? = nil) -> ForegroundMap {
        if let mask { return ForegroundMap(image: image, mask: mask, stretch: stretch, background: background) }
        return ForegroundMap(image: image, detector: ForegroundDetector(config: foreground), stretch: stretch)
    }

    /// The foreground map of a sample, from its stored mask when it has one.
    public func foregroundMap(_ sample: Sample) -> ForegroundMap { foregroundMap(sample.image, mask: sample.foreground) }

    /// Makes every view of one image into caller-provided buffers.
    /// - Parameters:
    ///   - global: `[G, C, S, S]` for the global views: view `v` starts at `v * globalStride`.
    ///   - local: `[L, C, s, s]` for the local views, view `v` at `v * localStride`.
    ///   - globalStride, localStride: floats between consecutive views of this image (nil: packed,
    ///     `C * S * S`); a crop-major batch `[G, N, C, S, S]` passes `N * C * S * S`.
    ///   - recordRejected: keep the rejected candidates in the records.
    public func makeViews(image: LensImage, map: ForegroundMap, epoch: Int, sample: Int,
                          global: UnsafeMutableBufferPointer<Float>, local: UnsafeMutableBufferPointer<Float>,
                          globalStride: Int? = nil, localStride: Int? = nil,
                          recordRejected: Bool = false) -> [ViewRecord] {
        let C = image.channels
        var records: [ViewRecord] = []
        records.reserveCapacity(recipe.viewCount)
        let sigma = map.sigma / Float(C).squareRoot()
        image.pixels.withUnsafeBufferPointer { src in
            for v in 0..<recipe.viewCount {
                let spec = recipe.spec(v)
                let isGlobal = v < recipe.global.count
                let S = spec.size
                let base = isGlobal ? v * (globalStride ?? C * S * S) : (v - recipe.global.count) * (localStride ?? C * S * S)
                let out = isGlobal ? global : local
                var rng = ViewKey(seed: seed, epoch: epoch, sample: sample, view: v).generator()
                let plan = ViewPlan.draw(spec, &rng)
                var record = chooseCrop(spec: spec, plan: plan, map: map, width: image.width, height: image.height, &rng, recordRejected: recordRejected)
                record.view = v
                record.isGlobal = isGlobal
                record.dihedral = plan.dihedral
                for c in 0..<C {
                    let plane = UnsafeBufferPointer(rebasing: src[(c * image.width * image.height)..<((c + 1) * image.width * image.height)])
                    let target = UnsafeMutableBufferPointer(rebasing: out[(base + c * S * S)..<(base + (c + 1) * S * S)])
                    ViewRenderer.resample(plane, width: image.width, height: image.height, crop: record.crop, size: S, into: target)
                    ViewRenderer.dihedral(plan.dihedral, target, size: S)
                    ViewRenderer.photometric(plan, spec: spec, target, size: S, sigma: sigma, counts: map.isCountData, &rng)
                }
                records.append(record)
            }
        }
        return records
    }

    /// Rejection sampling of the crop: up to `maxRetries + 1` candidates, then the fallback.
    func chooseCrop(spec: ViewSpec, plan: ViewPlan, map: ForegroundMap, width W: Int, height H: Int,
                    _ rng: inout Philox4x64, recordRejected: Bool) -> ViewRecord {
        let noForeground = map.isEmpty
        var rejected: [CropGeometry] = []
        var last: CropGeometry?
        for attempt in 0...recipe.maxRetries {
            guard let g = CropGeometry.draw(spec, angle: plan.angle, width: W, height: H, &rng) else { continue }
            last = g
            let (share, count) = Self.contents(g, map)
            let fraction = Double(count) / (g.width * g.height)
            let passes = noForeground || Self.passes(share: share, fraction: fraction, spec)
            if !recipe.rejection || passes {
                return ViewRecord(view: 0, isGlobal: false, crop: g, dihedral: 0, retries: attempt, fallback: false,
                                  noForeground: noForeground, fluxShare: share, pixelFraction: fraction, wouldReject: !passes, rejected: rejected)
            }
            if recordRejected { rejected.append(g) }
        }
        // Constructive fallback: a crop of the last drawn size (or the smallest allowed) around a random
        // foreground pixel; with no foreground, the image centre.
        let size = last ?? CropGeometry(centerX: 0, centerY: 0, width: (spec.scale[0] * Double(W * H)).squareRoot().rounded(),
                                        height: (spec.scale[0] * Double(W * H)).squareRoot().rounded(), angle: plan.angle)
        let pixel = noForeground ? (x: W / 2, y: H / 2) : map.randomPixel(&rng)
        let g = size.anchored(on: pixel, width: W, height: H, &rng)
        let (share, count) = Self.contents(g, map)
        let fraction = Double(count) / (g.width * g.height)
        return ViewRecord(view: 0, isGlobal: false, crop: g, dihedral: 0, retries: recipe.maxRetries + 1, fallback: true,
                          noForeground: noForeground, fluxShare: share, pixelFraction: fraction,
                          wouldReject: !noForeground && !Self.passes(share: share, fraction: fraction, spec), rejected: rejected)
    }

    /// The rejection test: the crop holds at least `minFluxShare` of the lens flux and at least
    /// `minForegroundPixels` of its pixels are foreground.
    static func passes(share: Double, fraction: Double, _ spec: ViewSpec) -> Bool {
        share >= spec.minFluxShare && fraction >= spec.minForegroundPixels
    }

    static func contents(_ g: CropGeometry, _ map: ForegroundMap) -> (Double, Int) {
        if g.angle == 0 {
            let x0 = Int((g.centerX - g.width / 2).rounded()), y0 = Int((g.centerY - g.height / 2).rounded())
            return map.contents(x0: x0, y0: y0, x1: x0 + Int(g.width), y1: y0 + Int(g.height))
        }
        return map.contents(centerX: g.centerX, centerY: g.centerY, width: g.width, height: g.height, angle: g.angle)
    }
}
