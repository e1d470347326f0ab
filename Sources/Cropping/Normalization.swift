import LensData
import RealModule

/// How crop pixels are scaled. Every mode is finite on every input: NaN/Inf pixels become the
/// background level first, and a zero spread (constant or all-zero images) is replaced by 1.
public enum Normalization: Sendable, Equatable, Codable {
    case none
    /// `(x - lo) / max(hi - lo, eps)` per image, or with one `lo`/`hi` for the whole data set.
    case minmax(DatasetStats?)
    /// `(x - background) / sigma` per image, or with data-set background and sigma.
    case zscore(DatasetStats?)
    /// `asinh((x - background) / (softening * sigma))`: the astronomical stretch.
    case asinh(softening: Float)
    /// `S sigma asinh((x - background) / (S sigma))`, S the softening: the asinh stretch in the
    /// image's own units. Below about S sigma it is `x - background` (the sky keeps its small
    /// amplitude, as with `none`); above, it grows logarithmically (bright arcs and the lens galaxy are
    /// compressed, so the faint arcs weigh more).
    case asinhFlux(softening: Float)
    /// `log1p(max(x - background, 0) / sigma)`: a log stretch that keeps faint structure.
    case log1p
    /// `(x - background) / flux`: the image's own sky subtracted, then one scale for the whole data set,
    /// its lens brightness (`DatasetStats.flux`), so a bright lens sits near 1 whatever the units
    /// (counts, electrons per second, fluxes), the regime DeepLense Model II stamps are in.
    case lensFlux(DatasetStats?)
    /// `(x - background) / flux` with the image's own lens brightness (the 99th percentile of its
    /// foreground above its sky): every lens near 1, whatever its exposure or brightness; what the
    /// brightness itself said is gone (the per-image sibling of `lensFlux`, as `minmax` is of
    /// `minmax-dataset`).
    case lens

    /// Statistics from a first pass over a sample, shared by every image of a data set.
    public struct DatasetStats: Sendable, Equatable, Codable {
        public var low: Float
        public var high: Float
        public var background: Float
        public var sigma: Float
        /// The data set's lens brightness: the median over the sampled images of the 99th percentile of
        /// their foreground pixels above their sky, per channel (nil in files written before it existed).
        public var flux: Float?
        public init(low: Float, high: Float, background: Float, sigma: Float, flux: Float? = nil) {
            self.low = low
            self.high = high
            self.background = background
            self.sigma = sigma
            self.flux = flux
        }
    }

    /// The names `init(name:stats:)` accepts (and `name` returns).
    public static let names = ["none", "minmax", "minmax-dataset", "zscore", "zscore-dataset", "asinh", "asinh-flux", "log1p", "lens", "lens-dataset"]

    /// True for the names that need data-set statistics from a calibration pass.
    public static func needsDatasetStats(_ name: String) -> Bool { name.hasSuffix("-dataset") }

    /// The data-set statistics a `-dataset` variant carries (nil for the others).
    public var datasetStats: DatasetStats? {
        switch self {
        case .minmax(let s), .zscore(let s), .lensFlux(let s): return s
        case .none, .asinh, .asinhFlux, .log1p, .lens: return nil
        }
    }

    /// The normalisation called `name` (one of `names`); `-dataset` variants take `stats`. Nil for an
    /// unknown name.
    public init?(name: String, stats: DatasetStats? = nil) {
        switch name {
        case "none": self = .none
        case "minmax": self = .minmax(nil)
        case "minmax-dataset": self = .minmax(stats.map { Self.withoutFlux($0) })
        case "zscore": self = .zscore(nil)
        case "zscore-dataset": self = .zscore(stats.map { Self.withoutFlux($0) })
        case "asinh": self = .asinh(softening: 1)
        case "asinh-flux": self = .asinhFlux(softening: 1)
        case "log1p": self = .log1p
        case "lens-dataset": self = .lensFlux(stats)
        case "lens": self = .lens
        default: return nil
        }
    }

    /// Stats as the normalisations that do not use the lens brightness record them (as before it existed).
    static func withoutFlux(_ s: DatasetStats) -> DatasetStats { DatasetStats(low: s.low, high: s.high, background: s.background, sigma: s.sigma) }

    public var name: String {
        switch self {
        case .none: return "none"
        case .minmax(let s): return s == nil ? "minmax" : "minmax-dataset"
        case .zscore(let s): return s == nil ? "zscore" : "zscore-dataset"
        case .asinh: return "asinh"
        case .asinhFlux: return "asinh-flux"
        case .log1p: return "log1p"
        case .lensFlux: return "lens-dataset"
        case .lens: return "lens"
        }
    }

    /// Undoes a non-linear stretch: for `asinh` and `log1p`, the channel sum `[H, W]` of `image` back
    /// in linear flux above the sky, in units of the sky's sigma (as `Cropper` scaled it); nil for the
    /// linear normalisations and for `asinh-flux` (linear over the sky and faint light, which is what
    /// detection looks at), which detection handles as they are. log1p clipped the sky below its
    /// level to 0: those pixels get the negative half of a unit Gaussian back (a fixed stream, so the
    /// result is deterministic), which gives the detector a sky whose level and sigma it can measure.
    public func linearized(_ image: LensImage) -> [Float]? {
        let inverse: (Float) -> Float
        var scale = 1 / Float(Swift.max(image.channels, 1)).squareRoot()  // per-channel sigma / channel-sum sigma
        var refill = false
        switch self {
        case .asinh(let softening):
            inverse = { Float.sinh($0) }
            scale *= Swift.max(softening, 1e-6)
        case .log1p:
            inverse = { Float.expMinusOne($0) }
            refill = true
        case .none, .minmax, .zscore, .asinhFlux, .lensFlux, .lens:
            return nil
        }
        var rng = Philox4x64(seed: 0x5C1A, stream: 0)
        let n = image.width * image.height
        var plane = [Float](repeating: 0, count: n)
        image.pixels.withUnsafeBufferPointer { p in
            for c in 0..<image.channels {
                for i in 0..<n {
                    var v = p[c * n + i] == 0 && refill ? -Float(abs(rng.normal())) : inverse(p[c * n + i])
                    v *= scale
                    plane[i] += v.isFinite ? v : 0
                }
            }
        }
        return plane
    }

    /// Scales `pixels` in place. `background`, `sigma` and `lensFlux` (what `lens` divides by; nil
    /// without a foreground) are the image's own estimates.
    public func apply(to pixels: inout [Float], background: Float, sigma: Float, lensFlux: Float? = nil) {
        let safeSigma = sigma.isFinite && sigma > 0 ? sigma : 1
        let bg = background.isFinite ? background : 0
        pixels.withUnsafeMutableBufferPointer { p in
            for i in p.indices where !p[i].isFinite { p[i] = bg }
            switch self {
            case .none:
                break
            case .minmax(let stats):
                var lo = stats?.low ?? .infinity, hi = stats?.high ?? -.infinity
                if stats == nil { for v in p { lo = Swift.min(lo, v); hi = Swift.max(hi, v) } }
                let span = hi - lo
                let scale = span.isFinite && span > 1e-12 ? 1 / span : 0
                for i in p.indices { p[i] = (p[i] - lo) * scale }
            case .zscore(let stats):
                let b = stats?.background ?? bg
                let s = stats.map { $0.sigma > 0 && $0.sigma.isFinite ? $0.sigma : 1 } ?? safeSigma
                for i in p.indices { p[i] = (p[i] - b) / s }
            case .asinh(let softening):
                let scale = 1 / (Swift.max(softening, 1e-6) * safeSigma)
                for i in p.indices { p[i] = Float.asinh((p[i] - bg) * scale) }
            case .asinhFlux(let softening):
                let width = Swift.max(softening, 1e-6) * safeSigma, scale = 1 / width
                for i in p.indices { p[i] = width * Float.asinh((p[i] - bg) * scale) }
            case .log1p:
                let scale = 1 / safeSigma
                for i in p.indices { p[i] = Float.log(onePlus: Swift.max(p[i] - bg, 0) * scale) }
            case .lensFlux, .lens:
                // The data set's or the image's lens brightness; without one (no foreground): 100 sky sigmas.
                let measured = if case .lensFlux(let stats) = self { stats?.flux } else { lensFlux }
                let flux = measured.flatMap { $0.isFinite && $0 > 0 ? $0 : nil } ?? 100 * safeSigma
                for i in p.indices { p[i] = (p[i] - bg) / flux }
            }
            // Overflow guard: a finite input can still overflow (1e38 - -1e38).
            for i in p.indices where !p[i].isFinite {
                p[i] = p[i].isNaN ? 0 : (p[i] > 0 ? .greatestFiniteMagnitude : -.greatestFiniteMagnitude)
            }
        }
    }
}
