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

    public init() {}

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
    public var finalDim: Int { stageDim(stages - 1) }

    /// Checks that every stage of an `size x size` crop tiles into windows.
    public func validate(cropSize: Int) throws {
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

public struct ConfigError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
