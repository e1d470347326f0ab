import LensData
import MiniTrain
import PairSampler

/// Inference: pooled backbone features of whole images, batched (the k-NN monitor, `embed`, `eval`).
public struct FeatureExtractor: Sendable {
    public let network: EsViTNetwork
    public let arena: ParameterArena
    /// Images are resampled to this side (the global view size the network was trained on).
    public let size: Int
    public var batch = 64
    /// How many of the last blocks' pooled outputs each feature holds, side by side (1: the final
    /// pooled feature; 4: EsViT's linear-probe features, `EsViTNetwork.embed(lastBlocks:)`).
    public var lastBlocks = 1
    /// The width of one feature.
    public var dimension: Int { network.config.lastBlocksWidth(lastBlocks) }

    public init(network: EsViTNetwork, arena: ParameterArena, size: Int) {
        self.network = network
        self.arena = arena
        self.size = size
    }

    /// `[N, dimension]` features of `images`, in order. Runs on the kernel
    /// threads of the calling task (`KernelThreads.$count`).
    public func features(_ images: [LensImage], progress: ((Int) -> Void)? = nil) -> [Float] {
        let D = dimension, S = size
        var out = [Float]()
        out.reserveCapacity(images.count * D)
        for first in stride(from: 0, to: images.count, by: batch) {
            let part = images[first..<min(images.count, first + batch)]
            var pixels = [Float]()
            pixels.reserveCapacity(part.count * network.config.inChannels * S * S)
            for image in part { pixels += PairSampler.wholeView(image, size: S) }
            out += network.embed(arena, images: pixels, batch: part.count, size: S, lastBlocks: lastBlocks)
            progress?(first + part.count)
        }
        return out
    }
}
