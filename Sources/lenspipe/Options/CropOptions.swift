import ArgumentParser
import Cropping
import LensData

/// The crop window: a side in pixels, or `auto` (measured on the data by a calibration pass).
enum CropSize: ExpressibleByArgument, Equatable, CustomStringConvertible {
    case pixels(Int)
    case auto

    init?(argument: String) {
        if argument == "auto" { self = .auto; return }
        guard let s = Int(argument), (4...4096).contains(s) else { return nil }
        self = .pixels(s)
    }

    var description: String { if case .pixels(let s) = self { return String(s) }; return "auto" }
    var defaultValueDescription: String { description }
    static var allValueStrings: [String] { [] }
}

/// A normalisation by name (`Normalization.names`); the `-dataset` variants get their statistics
/// from a calibration pass.
struct NormalizationName: ExpressibleByArgument, Equatable, CustomStringConvertible {
    let name: String
    init?(argument: String) {
        guard Self.allValueStrings.contains(argument) else { return nil }
        name = argument
    }
    static let none = NormalizationName(argument: "none")!
    /// `auto`: `lens` or `lens-dataset`, chosen by the calibration pass (`CropCalibration.automaticNormalization`).
    static let auto = CropCalibration.automaticName
    var description: String { name }
    /// A calibration pass is needed: the `-dataset` statistics, or `auto`'s choice.
    var needsDatasetStats: Bool { name == Self.auto || Normalization.needsDatasetStats(name) }
    static var allValueStrings: [String] { Normalization.names + [auto] }
}

/// `--sky-zero`: a radius in pixels, or `off`.
enum SkyZeroOption: ExpressibleByArgument, Equatable {
    case off
    case radius(Int)
    init?(argument: String) {
        if argument == "off" { self = .off; return }
        guard let r = Int(argument) else { return nil }
        self = .radius(r)
    }
}

/// The options that configure cropping; shared by `crop` and `preprocess`. Each is nil
/// when not given, so `preprocess --like` can tell a setting asked for from a default.
struct CropOptions: ParsableArguments {
    @Option(help: ArgumentHelp("Crop window side in pixels, or 'auto': the smallest window holding the whole foreground of 99% of a sample of the training images. Default: auto, but at least \(CropConfig.defaultMinimumWindow) px (the network's view) unless the images are smaller.",
                               valueName: "px|auto"))
    var size: CropSize?

    @Option(name: [.customLong("crop"), .customLong("policy")], help: "Crop policy: fixed (default), bbox, center or none.")
    var policy: CropConfig.Policy?

    @Option(help: ArgumentHelp("Pixel normalisation (default \(CropConfig.defaultNormalizationName), with --sky-zero \(CropConfig.defaultSkyZero)): \(NormalizationName.allValueStrings.joined(separator: ", ")); -dataset variants use statistics of the training images. lens takes each image's sky off and divides by its own lens brightness (the 99th percentile of its foreground above the sky), lens-dataset by the training images' median lens brightness: a bright lens near 1 whatever the units. auto picks lens when the training images' sky level and lens brightness rise together (an exposure that varies per image, as in counts) and lens-dataset otherwise (fluxes, where an image's brightness is signal).",
                               valueName: "name"))
    var normalize: NormalizationName?

    @Option(help: ArgumentHelp("asinh's softening in noise sigmas (default 1): --normalize asinh gives asinh((x - background) / (S sigma)), asinh-flux S sigma times that. Larger S keeps the sky noise near linear and compresses only the bright arcs.",
                               valueName: "S"))
    var asinhSoftening: Float?

    @Option(help: ArgumentHelp("Set every pixel farther than R pixels from the detected lens to exactly 0 after normalisation (the sky's noise gone), or off. Default: \(CropConfig.defaultSkyZero) with the default normalisation, off with an explicit --normalize. Needs a normalisation that takes the sky off: \(CropConfig.skyZeroModes.joined(separator: ", ")).",
                               valueName: "R|off"))
    var skyZero: SkyZeroOption?

    @Option(help: "Foreground threshold in noise sigmas above the background (default 3).")
    var k: Float?

    @Option(help: "Gaussian smoothing sigma (pixels) before thresholding (default 1; 0 turns it off).")
    var smoothing: Float?

    /// The options given on the command line (for `--like`, which refuses them).
    var given: [String] {
        [size.map { _ in "--size" }, policy.map { _ in "--crop" }, normalize.map { _ in "--normalize" },
         k.map { _ in "--k" }, smoothing.map { _ in "--smoothing" }, asinhSoftening.map { _ in "--asinh-softening" },
         skyZero.map { _ in "--sky-zero" }].compactMap { $0 }
    }

    func validate() throws {
        if let k { guard k > 0 && k < 100 else { throw ValidationError("--k must be in (0, 100)") } }
        if let smoothing { guard smoothing >= 0 && smoothing <= 10 else { throw ValidationError("--smoothing must be in [0, 10]") } }
        if case .radius(let r) = skyZero,
           let problem = CropConfig.skyZeroProblem(radius: r, normalization: normalizeOrDefault.name == NormalizationName.auto ? "lens" : normalizeOrDefault.name) {
            throw ValidationError("--sky-zero \(r): \(problem) (with --like, drop it: the reference's settings apply)")
        }
        if let asinhSoftening {
            guard asinhSoftening > 0 && asinhSoftening <= 1000 else { throw ValidationError("--asinh-softening must be in (0, 1000]") }
            guard ["asinh", "asinh-flux"].contains(normalize?.name ?? "") else {
                throw ValidationError("--asinh-softening goes with --normalize asinh or asinh-flux")
            }
        }
    }

    /// `--normalize`, or the default (`auto`).
    var normalizeOrDefault: NormalizationName { normalize ?? NormalizationName(argument: CropConfig.defaultNormalizationName)! }

    /// A calibration pass runs for `--size auto`, for the default window (unless `--crop none` uses no
    /// window), for `auto`'s choice and for the `-dataset` normalisations.
    var needsCalibration: Bool {
        let window = size.map { $0 == .auto } ?? (policy != CropConfig.Policy.none)
        return window || normalizeOrDefault.needsDatasetStats
    }

    /// The crop configuration, after a calibration pass over `source` when `auto` or data-set
    /// statistics need one (then also the calibration itself).
    func resolve(source: any SampleSource, threads: Int) -> (config: CropConfig, calibration: CropCalibration?) {
        var size = CropConfig.defaultMinimumWindow
        if case .pixels(let s) = self.size { size = s }
        var config = CropConfig(policy: policy ?? .fixed, size: size, k: k ?? 3, smoothing: smoothing ?? 1)
        let normalize = normalizeOrDefault
        var calibration: CropCalibration?
        if needsCalibration {
            let c = CropCalibration.run(source: source, config: config, threads: threads)
            if self.size == .auto { config.size = c.autoSize }
            if self.size == nil && config.policy != .none { config.size = c.defaultSize }
            calibration = c
        }
        if normalize.name == NormalizationName.auto, let calibration {
            config.normalization = calibration.automaticNormalization
        } else {
            config.normalization = Normalization(name: normalize.name, stats: calibration?.stats) ?? .none
        }
        switch (config.normalization, asinhSoftening) {
        case (.asinh, let s?): config.normalization = .asinh(softening: s)
        case (.asinhFlux, let s?): config.normalization = .asinhFlux(softening: s)
        default: break
        }
        switch skyZero {
        case .radius(let r)?: config.skyZero = r
        case .off?: config.skyZero = nil
        case nil: config.skyZero = self.normalize == nil || self.normalize?.name == NormalizationName.auto ? CropConfig.defaultSkyZero : nil
        }
        return (config, calibration)
    }
}
