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
/// held decompressed, whatever the data set's size: a block's samples come from its own shards, and
/// at a block boundary the samples are visited in order (the old block's tail, then the new block's
/// head), so each new shard displaces an old one that is no longer needed. The order is a
/// pure function of (seed, epoch): the same for any thread count, and after a resume.
public final class ShardOrder: Sendable {
    public let reader: MDSReader
    public let seed: UInt64
    public let shardsPerBlock: Int
    private let cache = Mutex<[(Int, MDSShard)]>([])
    /// The channels of the first sample decoded: every other must have as many (shards of other
    /// writers may store images of any shape in a dynamic ndarray column; sizes may differ, since views
    /// and embeddings resample, but a batch needs one channel count).
    private let channels = Mutex<Int?>(nil)

    public init(reader: MDSReader, seed: UInt64, shardsPerBlock: Int) {
        self.reader = reader
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
        guard index >= 0 && index < reader.count else { throw LensDataError(path: reader.folder, "sample \(index) out of range 0..<\(reader.count)") }
        var k = 0, lo = 0, hi = reader.starts.count - 1
        while lo <= hi { let mid = (lo + hi) / 2; if reader.starts[mid] <= index { k = mid; lo = mid + 1 } else { hi = mid - 1 } }
        let shard = try cachedShard(k)
        let local = index - reader.starts[k]
        let name = reader.folder + "/" + (reader.shards[k].zipName ?? reader.shards[k].rawName)
        do {
            let values = try shard.withRecord(local) { try reader.shards[k].columns.decode($0) }
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
            throw LensDataError(path: name, "sample \(local): \(error)")
        }
    }

    private func cachedShard(_ k: Int) throws -> MDSShard {
        if let hit = cache.withLock({ c -> MDSShard? in
            guard let i = c.firstIndex(where: { $0.0 == k }) else { return nil }
            let entry = c.remove(at: i)
            c.insert(entry, at: 0)
            return entry.1
        }) { return hit }
        let shard = try reader.loadShard(k)
        cache.withLock { c in
            c.removeAll { $0.0 == k }
            c.insert((k, shard), at: 0)
            while c.count > shardsPerBlock + 1 { c.removeLast() }
        }
        return shard
    }
}
