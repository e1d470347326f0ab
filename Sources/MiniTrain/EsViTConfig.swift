/// The shape of an EsViT model: a Swin backbone and two DINO heads (view level and region level).
public struct EsViTConfig: Codable, Sendable, Equatable {
    public var inChannels = 1
    public var patch = 4
    /// Embedding dimension of the first stage (doubles at every patch merging).
    public var dim = 32
    public var depths = [2, 2, 2]
    public var heads = [2, 4, 8]
    /// Window side; a stage whose map side is at most this uses the whole map as one window, unshifted.
    public var window = 4
    public var mlpRatio = 4
    /// DINO head: output dimension K, hidden width, bottleneck.
    public var outDim = 1024
    public var hidden = 256
    public var bottleneck = 64
    public var layerNormEps: Float = 1e-6
    /// The network multiplies every input pixel by this before the patch embedding (a fixed gain, not
    /// a parameter). Images stored with `--normalize none` have a sky near 0 and arcs of order 1; the
    /// recipe study (docs/science.md) measures what scaling them does to the features.
    public var inputScale: Float = 1
    /// How the final-stage tokens become the pooled feature (the view head's input and the feature that
    /// `embed`, `eval` and the k-NN monitor use): `mean` (Swin's and EsViT's), or `foreground`, weighted
    /// by how much of each token's input cell is lens light (`ForegroundPool`).
    public var pooling: TokenPooling = .mean
    /// What the view head reads: `pooled` (EsViT's), or `standardized`, the pooled features minus their
    /// running mean, divided by their running standard deviation, per channel (`RunningStandardize`; the
    /// trainer keeps the statistics). The features that `embed` returns are the pooled ones either way.
    public var viewHead: ViewHeadInput = .pooled
    /// Whether the network carries SimMIM's mask token and linear pixel decoder (`PixelDecoder`), for
    /// the masked-image-modelling loss. The training recipe sets it when its `mim` term has a weight.
    public var pixelDecoder = false
    /// How many stages the pixel decoder reads: 1 (SimMIM's: the last stage), or 2 (also the stage
    /// before it, through its own 1x1 convolution and pixel shuffle at half the stride; the two
    /// reconstructions are added).
    public var decoderStages = 1

    public init() {}

    enum CodingKeys: String, CodingKey {
        case inChannels, patch, dim, depths, heads, window, mlpRatio, outDim, hidden, bottleneck, layerNormEps, inputScale, pooling, viewHead
        case pixelDecoder, decoderStages
    }

    /// Every field is optional (a checkpoint written before a field existed keeps loading with its default).
    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        let d = EsViTConfig()
        func get<T: Decodable>(_ k: CodingKeys, _ fallback: T) throws -> T { try c.decodeIfPresent(T.self, forKey: k) ?? fallback }
        inChannels = try get(.inChannels, d.inChannels)
        patch = try get(.patch, d.patch)
        dim = try get(.dim, d.dim)
        depths = try get(.depths, d.depths)
        heads = try get(.heads, d.heads)
        window = try get(.window, d.window)
        mlpRatio = try get(.mlpRatio, d.mlpRatio)
        outDim = try get(.outDim, d.outDim)
        hidden = try get(.hidden, d.hidden)
        bottleneck = try get(.bottleneck, d.bottleneck)
        layerNormEps = try get(.layerNormEps, d.layerNormEps)
        inputScale = try get(.inputScale, d.inputScale)
        pooling = try get(.pooling, d.pooling)
        viewHead = try get(.viewHead, d.viewHead)
        pixelDecoder = try get(.pixelDecoder, d.pixelDecoder)
        decoderStages = try get(.decoderStages, d.decoderStages)
    }

    /// The project's default "tiny" configuration (`lenspipe bench train` defaults).
    public static let tiny = EsViTConfig()

    /// The configuration of the golden vectors (`fixtures/esvit-tiny`).
    public static var golden: EsViTConfig {
        var c = EsViTConfig()
        c.dim = 16
        c.depths = [2, 2]
        c.heads = [2, 4]
        c.mlpRatio = 2
        c.outDim = 64
        c.hidden = 32
        c.bottleneck = 16
        return c
    }

    public var stages: Int { depths.count }
    public func stageDim(_ i: Int) -> Int { dim << i }
    /// The side of the final-stage token grid of an `S x S` crop (what a token mask is laid out on).
    public func tokenGrid(size S: Int) -> Int { (S / patch) >> (stages - 1) }
    public var finalDim: Int { stageDim(stages - 1) }
    /// Blocks in the backbone, all stages.
    public var blockCount: Int { depths.reduce(0, +) }
    /// The width of the last `n` blocks' pooled outputs side by side (`EsViTNetwork.embed(lastBlocks:)`).
    public func lastBlocksWidth(_ n: Int) -> Int {
        depths.enumerated().flatMap { i, d in Array(repeating: stageDim(i), count: d) }.suffix(n).reduce(0, +)
    }

    /// The bounds `checkLimits` holds every field to (docs/minitrain.md): wide enough for any model that
    /// trains on one machine, narrow enough that no product of them overflows or allocates without end.
    public enum Limits {
        public static let inChannels = 1...16, patch = 1...32, window = 1...32, stages = 1...6, depth = 1...32, heads = 1...64
        public static let dim = 1...1024, finalDim = 1...8192, mlpRatio = 1...16, outDim = 1...262_144, hidden = 1...16_384, bottleneck = 1...4096
        public static let cropSize = 1...4096
    }

    /// Checks every field against `Limits` and the shapes' own rules (heads per stage, heads dividing
    /// each stage's width), so a configuration read from a file can be laid out without overflow.
    public func checkLimits() throws {
        func within(_ v: Int, _ r: ClosedRange<Int>, _ name: String) throws {
            guard r.contains(v) else { throw ConfigError("\(name) \(v) is outside \(r.lowerBound)...\(r.upperBound)") }
        }
        try within(inChannels, Limits.inChannels, "inChannels")
        try within(patch, Limits.patch, "patch")
        try within(window, Limits.window, "window")
        try within(depths.count, Limits.stages, "the number of stages (depths)")
        for d in depths { try within(d, Limits.depth, "a stage depth") }
        guard heads.count == depths.count else { throw ConfigError("heads has \(heads.count) entries, depths \(depths.count): one per stage") }
        for h in heads { try within(h, Limits.heads, "a stage's heads") }
        try within(dim, Limits.dim, "dim")
        try within(dim << (depths.count - 1), Limits.finalDim, "the last stage's width (dim x 2^(stages-1))")
        for i in 0..<stages where stageDim(i) % heads[i] != 0 {
            throw ConfigError("stage \(i) width \(stageDim(i)) is not divisible by its \(heads[i]) heads")
        }
        try within(mlpRatio, Limits.mlpRatio, "mlpRatio")
        try within(outDim, Limits.outDim, "outDim")
        try within(hidden, Limits.hidden, "hidden")
        try within(bottleneck, Limits.bottleneck, "bottleneck")
        guard layerNormEps.isFinite && layerNormEps > 0 else { throw ConfigError("layerNormEps \(layerNormEps) must be a positive number") }
        guard inputScale.isFinite && inputScale > 0 else { throw ConfigError("inputScale \(inputScale) must be a positive number") }
        guard decoderStages == 1 || (decoderStages == 2 && stages >= 2) else {
            throw ConfigError("decoderStages \(decoderStages) must be 1, or 2 with at least two stages (the model has \(stages))")
        }
    }

    /// Checks the configuration (`checkLimits`) and that every stage of an `size x size` crop tiles
    /// into windows.
    public func validate(cropSize: Int) throws {
        try checkLimits()
        let smallest = patch << (stages - 1)
        guard cropSize >= smallest && cropSize <= Limits.cropSize.upperBound else {
            throw ConfigError("crop size \(cropSize) is outside \(smallest)...\(Limits.cropSize.upperBound) (the smallest is patch x 2^(stages-1))")
        }
        guard cropSize % patch == 0 else { throw ConfigError("crop size \(cropSize) is not a multiple of the patch \(patch)") }
        var side = cropSize / patch
        for i in 0..<stages {
            let ws = min(window, side)
            guard side % ws == 0 else { throw ConfigError("stage \(i) map \(side)x\(side) does not tile into \(ws)x\(ws) windows") }
            guard stageDim(i) % heads[i] == 0 else { throw ConfigError("stage \(i) dim \(stageDim(i)) is not divisible by \(heads[i]) heads") }
            if i < stages - 1 {
                guard side % 2 == 0 else { throw ConfigError("stage \(i) map \(side) cannot be merged 2x2") }
                side /= 2
            }
        }
    }
}

/// The pooling of `EsViTConfig.pooling`.
public enum TokenPooling: String, Codable, Sendable, CaseIterable {
    case mean, foreground
}

/// The view head's input (`EsViTConfig.viewHead`).
public enum ViewHeadInput: String, Codable, Sendable, CaseIterable {
    case pooled, standardized
}

public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
