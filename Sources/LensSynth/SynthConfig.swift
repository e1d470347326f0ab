/// Settings for the DeepLense-like simulator. Defaults follow the DeepLense Model I (150 px) and
/// Model II (64 px) recipes summarised in `docs/synth.md`.
public struct SynthConfig: Sendable, Equatable {
    /// Image side in pixels: 150 (Model I-like, int64 photon counts) or 64 (Model II-like, float64).
    public var size: Int
    public var seed: UInt64
    /// Largest shift of the lens centre from the image centre, in pixels, per axis (0 = centred, as
    /// in DeepLense). Off-centre lenses are what cropping has to cope with.
    public var lensOffset: Double
    /// When false, images are the noiseless, PSF-convolved model (float64, in counts for 150 px).
    public var noise: Bool

    public init(size: Int = 150, seed: UInt64 = 0, lensOffset: Double = 0, noise: Bool = true) {
        self.size = size
        self.seed = seed
        self.lensOffset = lensOffset
        self.noise = noise
    }

    /// Class folder names, sorted: their index is the label.
    public static let classes = ["axion", "cdm", "no_sub"]

    /// Arcseconds per pixel: 0.05 for 150 px (Model I), 0.101 for 64 px (Euclid VIS, Model II).
    public var pixelScale: Double { size >= 100 ? 0.05 : 0.101 }
    /// Gaussian PSF FWHM in arcseconds.
    public var psfFWHM: Double { size >= 100 ? 0.087 : 0.16 }
    /// True when the output is integer photon counts.
    public var integerCounts: Bool { size >= 100 && noise }
}
