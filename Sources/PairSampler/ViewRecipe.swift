/// How to make the SSL views of one image: 2 global views and N local views, each with its crop
/// geometry, its rejection thresholds and a probability for every operation.
///
/// Loadable from JSON (`--recipe FILE`); every field has a default, so a file only lists what it
/// changes. Defaults adapt DINO to lensing: blur p 1.0 / 0.1 / 0.5 (global 1 / global 2 / local),
/// all 8 dihedral symmetries, no colour jitter or solarize, noise at the image's own noise level,
/// global views at 64 px from 40-100% of the area, local views at 32 px from 5-40%.
///
///     {"global": [{"size": 64, "blur": 1.0}, {"size": 64, "blur": 0.1}],
///      "local": {"count": 6, "size": 28, "scale": [0.05, 0.4]}, "maxRetries": 50}
public struct ViewRecipe: Codable, Sendable, Equatable {
    /// The two global views (DINO uses different blur and solarize probabilities for each).
    public var global: [ViewSpec]
    /// The local view spec, applied `local.count` times.
    public var local: ViewSpec
    /// Candidates tried per view before the constructive fallback.
    public var maxRetries: Int
    /// False turns rejection sampling off (plain random crops), for comparison.
    public var rejection: Bool

    public init(global: [ViewSpec] = ViewRecipe.defaultGlobal, local: ViewSpec = ViewRecipe.defaultLocal,
                maxRetries: Int = 50, rejection: Bool = true) {
        self.global = global
        self.local = local
        self.maxRetries = maxRetries
        self.rejection = rejection
    }

    public static let defaultGlobal = [
        ViewSpec(size: 64, scale: [0.4, 1], blur: 1.0, minFluxShare: 0.3),
        ViewSpec(size: 64, scale: [0.4, 1], blur: 0.1, minFluxShare: 0.3),
    ]
    public static let defaultLocal = ViewSpec(count: 4, size: 32, scale: [0.05, 0.4], blur: 0.5, gaussianNoise: 0, minFluxShare: 0.1)

    /// Views per image.
    public var viewCount: Int { global.count + local.count }

    /// The spec of view `v` (globals first).
    public func spec(_ v: Int) -> ViewSpec { v < global.count ? global[v] : local }

    enum CodingKeys: String, CodingKey { case global, local, maxRetries, rejection }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        global = try c.decodeIfPresent([ViewSpec].self, forKey: .global) ?? ViewRecipe.defaultGlobal
        local = try c.decodeIfPresent(ViewSpec.self, forKey: .local) ?? ViewRecipe.defaultLocal
        maxRetries = try c.decodeIfPresent(Int.self, forKey: .maxRetries) ?? 50
        rejection = try c.decodeIfPresent(Bool.self, forKey: .rejection) ?? true
    }

    /// Checks ranges; the error names the field.
    public func validate() throws {
        guard !global.isEmpty else { throw RecipeError("global: at least one global view is needed") }
        guard maxRetries >= 0 && maxRetries <= 10_000 else { throw RecipeError("maxRetries must be 0...10000") }
        for (i, g) in global.enumerated() { try g.validate("global[\(i)]") }
        guard Set(global.map(\.size)).count == 1 else { throw RecipeError("global: all global views need one size (they are stacked)") }
        try local.validate("local")
    }
}

/// One kind of view. Probabilities are per view; ranges are `[low, high]`.
public struct ViewSpec: Codable, Sendable, Equatable {
    /// How many views of this kind (used for the local spec).
    public var count: Int = 1
    /// Output side in pixels.
    public var size: Int
    /// Crop area as a fraction of the image area.
    public var scale: [Double] = [0.4, 1]
    /// Crop aspect ratio range, drawn log-uniformly (lensing stamps are square: [1, 1]).
    public var ratio: [Double] = [1, 1]
    /// Probability of one of the 8 dihedral symmetries (uniform over the 8, identity included).
    public var dihedral: Double = 1
    /// Probability of a continuous rotation by an angle uniform in +-`rotationDegrees`; the crop is
    /// placed so that no empty corner enters the view.
    public var rotation: Double = 0
    public var rotationDegrees: Double = 180
    /// Probability of a Gaussian PSF blur with sigma uniform in `blurSigma` output pixels.
    public var blur: Double = 0.5
    public var blurSigma: [Double] = [0.1, 1.0]
    /// Probability of added Gaussian noise with sigma = U(`noiseLevel`) x the image's noise sigma.
    public var gaussianNoise: Double = 0.5
    public var noiseLevel: [Double] = [0, 1]
    /// Probability of Poisson re-noising of count data (integer, non-negative images):
    /// x -> Poisson(x * g) / g with gain g uniform in `poissonGain`; skipped for float images.
    public var poissonNoise: Double = 0
    public var poissonGain: [Double] = [0.5, 1]
    /// Probability of multiplying the flux by a factor log-uniform in `fluxScale`.
    public var fluxScaling: Double = 0
    public var fluxScale: [Double] = [0.8, 1.25]
    /// ImageNet-style brightness (shift by U(+-brightness) x image sigma) and contrast (U(1 +- contrast)
    /// around the view mean); off by default.
    public var brightnessContrast: Double = 0
    public var brightness: Double = 0.4
    public var contrast: Double = 0.4
    /// ImageNet-style solarize above `solarizeThreshold` of the view's range; off by default.
    public var solarize: Double = 0
    public var solarizeThreshold: Double = 0.5
    /// Clip output values to `[low, high]`; nil (default) never clips.
    public var clip: [Float]? = nil
    /// Rejection: a crop must hold this share of the image's foreground flux...
    public var minFluxShare: Double = 0.1
    /// ...and this share of its own pixels must be foreground.
    public var minForegroundPixels: Double = 0.02

    public init(count: Int = 1, size: Int, scale: [Double] = [0.4, 1], blur: Double = 0.5, gaussianNoise: Double = 0.5,
                minFluxShare: Double = 0.1) {
        self.count = count
        self.size = size
        self.scale = scale
        self.blur = blur
        self.gaussianNoise = gaussianNoise
        self.minFluxShare = minFluxShare
    }

    enum CodingKeys: String, CodingKey {
        case count, size, scale, ratio, dihedral, rotation, rotationDegrees, blur, blurSigma, gaussianNoise, noiseLevel,
             poissonNoise, poissonGain, fluxScaling, fluxScale, brightnessContrast, brightness, contrast, solarize,
             solarizeThreshold, clip, minFluxShare, minForegroundPixels
    }

    /// Any key, to find the ones `CodingKeys` does not name.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// Fields left out keep their defaults; a field the spec does not have is an error (a typo such as
    /// `scael` would otherwise be ignored, as the recipe's own fields are not).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        if let unknown = try decoder.container(keyedBy: AnyKey.self).allKeys.first(where: { CodingKeys(rawValue: $0.stringValue) == nil }) {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath + [unknown],
                                                    debugDescription: "unknown view field '\(unknown.stringValue)' (lenspipe train --print-recipe lists them all)"))
        }
        let d = ViewSpec(size: 64)
        func get<T: Decodable>(_ k: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? fallback }
        count = try get(.count, d.count)
        size = try get(.size, d.size)
        scale = try get(.scale, d.scale)
        ratio = try get(.ratio, d.ratio)
        dihedral = try get(.dihedral, d.dihedral)
        rotation = try get(.rotation, d.rotation)
        rotationDegrees = try get(.rotationDegrees, d.rotationDegrees)
        blur = try get(.blur, d.blur)
        blurSigma = try get(.blurSigma, d.blurSigma)
        gaussianNoise = try get(.gaussianNoise, d.gaussianNoise)
        noiseLevel = try get(.noiseLevel, d.noiseLevel)
        poissonNoise = try get(.poissonNoise, d.poissonNoise)
        poissonGain = try get(.poissonGain, d.poissonGain)
        fluxScaling = try get(.fluxScaling, d.fluxScaling)
        fluxScale = try get(.fluxScale, d.fluxScale)
        brightnessContrast = try get(.brightnessContrast, d.brightnessContrast)
        brightness = try get(.brightness, d.brightness)
        contrast = try get(.contrast, d.contrast)
        solarize = try get(.solarize, d.solarize)
        solarizeThreshold = try get(.solarizeThreshold, d.solarizeThreshold)
        clip = try c.decodeIfPresent([Float].self, forKey: .clip)
        minFluxShare = try get(.minFluxShare, d.minFluxShare)
        minForegroundPixels = try get(.minForegroundPixels, d.minForegroundPixels)
    }

    func validate(_ name: String) throws {
        func range(_ r: [Double], _ field: String, _ lo: Double, _ hi: Double) throws {
            guard r.count == 2, r[0] <= r[1], r[0] >= lo, r[1] <= hi else { throw RecipeError("\(name).\(field) must be [low, high] within [\(lo), \(hi)]") }
        }
        guard size >= 2 && size <= 4096 else { throw RecipeError("\(name).size must be 2...4096") }
        guard count >= 0 && count <= 64 else { throw RecipeError("\(name).count must be 0...64") }
        guard rotationDegrees >= 0 && rotationDegrees <= 360 else { throw RecipeError("\(name).rotationDegrees must be within [0, 360]") }
        try range(scale, "scale", 1e-4, 1)
        try range(ratio, "ratio", 0.1, 10)
        try range(blurSigma, "blurSigma", 0, 20)
        try range(noiseLevel, "noiseLevel", 0, 100)
        try range(poissonGain, "poissonGain", 1e-3, 1e3)
        try range(fluxScale, "fluxScale", 1e-3, 1e3)
        for (p, field) in [(dihedral, "dihedral"), (rotation, "rotation"), (blur, "blur"), (gaussianNoise, "gaussianNoise"),
                           (poissonNoise, "poissonNoise"), (fluxScaling, "fluxScaling"), (brightnessContrast, "brightnessContrast"),
                           (solarize, "solarize"), (minFluxShare, "minFluxShare"), (minForegroundPixels, "minForegroundPixels")] {
            guard p >= 0 && p <= 1 else { throw RecipeError("\(name).\(field) must be within [0, 1]") }
        }
        if let clip, clip.count != 2 || !(clip[0] < clip[1]) { throw RecipeError("\(name).clip must be [low, high] with low < high") }
    }
}

public struct RecipeError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
