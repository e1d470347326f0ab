/// How `Cropper` finds the lens, cuts the window and normalises it.
public struct CropConfig: Sendable, Equatable, Codable {
    public enum Policy: String, Sendable, CaseIterable, Codable {
        /// A `size` x `size` window centred on the foreground centroid; no resampling, so the physical
        /// pixel scale (and the apparent Einstein radius) is preserved. Shifted inside the image at
        /// borders; padded with the background level only when the image is smaller than `size`.
        case fixed
        /// A square around the foreground plus `margin`, resampled to `size`; the zoom is recorded,
        /// because resizing changes the apparent Einstein radius.
        case bbox
        /// A `size` x `size` window at the image centre (what DeepLense loaders do by hand).
        case center
        /// The whole image, unchanged in size.
        case none
    }

    public var policy: Policy
    /// Output side in pixels (ignored by `none`).
    public var size: Int
    /// Foreground threshold: background + k sigma.
    public var k: Float
    /// A component must reach background + `seedK` sigma somewhere to count (hysteresis), so noise
    /// blobs that just cross `k` are not mistaken for a lens.
    public var seedK: Float
    /// Gaussian smoothing (sigma, pixels) before thresholding; 0 turns it off.
    public var smoothing: Float
    /// Components carrying at least this share of the significant foreground flux are kept with the
    /// brightest one.
    public var minFluxShare: Float
    /// Components smaller than this many pixels are noise.
    public var minArea: Int
    /// A component's integrated signal-to-noise, sum(pixel - background) / (sigma * sqrt(area)), must
    /// reach this. Noise blobs that cross the threshold by chance stay below ~10; lensed arcs in
    /// DeepLense-like data are in the hundreds.
    public var minSignificance: Float
    /// Detect the foreground on an image binned `detectionBinning` x `detectionBinning` (nil: 2 for
    /// images of at least 96 px, else 1). Binning is itself smoothing and makes detection 4x cheaper;
    /// the centroid and kept flux are still measured on full-resolution pixels.
    public var detectionBinning: Int?
    /// Extra border around the foreground for `bbox`, as a fraction of the box side.
    public var margin: Float
    public var normalization: Normalization
    /// After normalisation, every pixel farther than this many pixels (a square neighbourhood) from the
    /// detected foreground becomes exactly 0: the sky's noise is gone, the lens and its surroundings
    /// stay. Nil: off. Needs a normalisation that takes the sky off (`skyZeroModes`); a crop holding no
    /// foreground pixel is left whole.
    public var skyZero: Int?

    /// What `preprocess`, `crop`, `demo` and `attention` do when not told otherwise, chosen by
    /// measurement on Model I-, II- and III-like data and lenspipe's own (docs/science.md, issue 34):
    /// each image's sky off and its lens brightness scaled to about 1, by the image's own lens
    /// brightness where the calibration pass finds the exposure varies per image (`lens`: counts) and by
    /// the data set's median lens brightness otherwise (`lens-dataset`: fluxes, where an image's
    /// brightness is signal), `CropCalibration.automaticNormalization`; the sky farther than
    /// `defaultSkyZero` pixels from the lens exactly 0; and a window that holds the lens (`auto`) but
    /// is never smaller than the network's global view (`defaultMinimumWindow`).
    public static let defaultNormalizationName = CropCalibration.automaticName
    public static let defaultSkyZero = 4
    public static let defaultMinimumWindow = 64

    /// The default configuration with a window of `size` pixels, normalised as `calibration` (a pass
    /// over the data set) chooses (see `defaultNormalizationName`).
    public static func standard(size: Int, calibration: CropCalibration) -> CropConfig {
        CropConfig(policy: .fixed, size: size, normalization: calibration.automaticNormalization, skyZero: defaultSkyZero)
    }

    /// The normalisations after which the sky sits at 0, so zeroing it changes only its noise.
    public static let skyZeroModes = ["zscore", "zscore-dataset", "asinh", "asinh-flux", "log1p", "lens", "lens-dataset"]

    /// What is wrong with a sky-zero radius after normalisation `name` (nil: nothing); the one check
    /// `validate()` and the command line share.
    public static func skyZeroProblem(radius: Int, normalization name: String) -> String? {
        guard (0...256).contains(radius) else { return "\(radius) is outside 0...256 pixels" }
        guard skyZeroModes.contains(name) else {
            return "it needs a normalisation that takes the sky off (\(skyZeroModes.joined(separator: ", "))), not \(name)"
        }
        return nil
    }

    public init(policy: Policy = .fixed, size: Int = 64, k: Float = 3, seedK: Float = 5, smoothing: Float = 1,
                minFluxShare: Float = 0.05, minArea: Int = 5, minSignificance: Float = 20, detectionBinning: Int? = nil, margin: Float = 0.1,
                normalization: Normalization = .none, skyZero: Int? = nil) {
        self.policy = policy
        self.size = size
        self.k = k
        self.seedK = seedK
        self.smoothing = smoothing
        self.minFluxShare = minFluxShare
        self.minArea = minArea
        self.minSignificance = minSignificance
        self.detectionBinning = detectionBinning
        self.margin = margin
        self.normalization = normalization
        self.skyZero = skyZero
    }
}

extension CropConfig {
    /// Checks every setting's range (the command line's limits, and the normalisation's parameters),
    /// so settings read from a file (`preprocess --like`) pass the same checks as options typed by hand.
    public func validate() throws {
        func check(_ ok: Bool, _ message: String) throws { if !ok { throw CropConfigError(message) } }
        try check((4...4096).contains(size), "crop size \(size) is outside 4...4096")
        try check(k > 0 && k < 100, "k \(k) is outside (0, 100)")
        try check(seedK > 0 && seedK < 100, "seed_k \(seedK) is outside (0, 100)")
        try check(smoothing >= 0 && smoothing <= 10, "smoothing \(smoothing) is outside [0, 10]")
        try check(minFluxShare >= 0 && minFluxShare <= 1, "min_flux_share \(minFluxShare) is outside [0, 1]")
        try check(minArea >= 0 && minArea <= 1 << 24, "min_area \(minArea) is outside 0...2^24")
        try check(minSignificance.isFinite && minSignificance >= 0, "min_significance \(minSignificance) must be a number >= 0")
        try check(detectionBinning.map { (1...64).contains($0) } ?? true, "detection_binning \(detectionBinning ?? 0) is outside 1...64")
        try check(margin >= 0 && margin <= 10, "margin \(margin) is outside [0, 10]")
        if let r = skyZero, let problem = Self.skyZeroProblem(radius: r, normalization: normalization.name) { throw CropConfigError("sky_zero: \(problem)") }
        switch normalization {
        case .minmax(let stats?):
            try check(stats.low.isFinite && stats.high.isFinite && stats.low < stats.high && stats.high - stats.low < .greatestFiniteMagnitude,
                      "min-max normalisation needs finite low < high (got \(stats.low), \(stats.high))")
        case .zscore(let stats?):
            try check(stats.background.isFinite && stats.sigma.isFinite && stats.sigma > 0,
                      "z-score normalisation needs a finite background and sigma > 0 (got \(stats.background), \(stats.sigma))")
        case .asinh(let s), .asinhFlux(let s):
            try check(s > 0 && s <= 1000, "asinh softening \(s) is outside (0, 1000]")
        case .lensFlux(let stats?):
            try check(stats.flux.map { $0.isFinite && $0 > 0 } ?? true, "lens normalisation needs a finite lens brightness > 0 (got \(stats.flux ?? .nan))")
        default:
            break
        }
    }
}

public struct CropConfigError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
