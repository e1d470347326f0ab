import FeatureMetrics
import Foundation
import LensData
import ShardWriter
import Synchronization

/// The training split in the order one epoch visits it, with bounded memory.
///
/// Random access across shards would decompress a shard per sample, so shuffling is two-level (as
/// MosaicML Streaming does): the shards are permuted per (seed, epoch), taken in blocks of
/// `shardsPerBlock`, and the samples of each block shuffled. At most `shardsPerBlock + 1` shards are
/// held decompressed (the reader's cache, sized here), whatever the data set's size: a block's samples come from its own shards, and
/// at a block boundary the samples are visited in order (the old block's tail, then the new block's
/// head), so each new shard displaces an old one that is no longer needed. The order is a
/// pure function of (seed, epoch): the same for any thread count, and after a resume.
public final class ShardOrder: Sendable {
    public let reader: MDSReader
    public let seed: UInt64
    public let shardsPerBlock: Int
    /// The channels of the first sample decoded: every other must have as many (shards of other
    /// writers may store images of any shape in a dynamic ndarray column; sizes may differ, since views
    /// and embeddings resample, but a batch needs one channel count).
    private let channels = Mutex<Int?>(nil)

    public init(reader: MDSReader, seed: UInt64, shardsPerBlock: Int) {
        self.reader = reader.withCache(of: max(1, shardsPerBlock) + 1)
        self.seed = seed
        self.shardsPerBlock = max(1, shardsPerBlock)
    }

    public var count: Int { reader.count }

    /// Global sample indices in epoch `epoch`'s order.
    public func order(epoch: Int) -> [Int] {
        var rng = Philox4x64(seed: seed, stream: 0x5A4D, UInt64(epoch))
        var shards = Array(reader.shards.indices)
        shards.seededShuffle(using: &rng)
        var out: [Int] = []
        out.reserveCapacity(reader.count)
        for first in stride(from: 0, to: shards.count, by: shardsPerBlock) {
            var block: [Int] = []
            for k in shards[first..<min(shards.count, first + shardsPerBlock)] {
                block += (reader.starts[k]..<(reader.starts[k] + reader.shards[k].samples))
            }
            block.seededShuffle(using: &rng)
            out += block
        }
        return out
    }

    /// Decodes sample `index` (global), keeping the shards of the last two blocks decompressed.
    public func sample(_ index: Int) throws -> ShardSample {
        let values = try reader.sample(at: index)
        let (k, local) = reader.location(of: index)
        do {
            let sample = try ShardSample(values, index: index)
            let first = channels.withLock { c -> Int in
                if c == nil { c = sample.image.channels }
                return c!
            }
            guard sample.image.channels == first else {
                throw MDSError("\(sample.image.channels) channels, but the split's images have \(first): every sample needs as many")
            }
            return sample
        } catch {
            throw LensDataError(path: reader.shardPath(k), "sample \(local): \(error)")
        }
    }
}
