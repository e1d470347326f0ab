import Foundation
import LensData
import Synchronization

/// Reads an MDS data set: `index.json`, then samples by global index across shards.
///
/// Shards are decompressed whole (one zstd frame) and indexed with their offset table; the
/// `cachedShards` most recently used stay in memory (two by default; `ShardOrder` keeps a block's
/// worth). Safe to use from several threads. Reads shards written by lenspipe
/// and by Python's `streaming.MDSWriter` alike.
public final class MDSReader: Sendable {
    public struct ShardInfo: Sendable {
        public var rawName: String
        public var rawBytes: Int
        public var rawHashes: [String: String]
        public var zipName: String?
        public var zipBytes: Int?
        public var zipHashes: [String: String]
        public var samples: Int
        public var columns: MDSColumns
    }

    public let folder: String
    public let shards: [ShardInfo]
    /// `starts[k]` is the global index of shard k's first sample.
    public let starts: [Int]
    public var count: Int { (starts.last ?? 0) + (shards.last?.samples ?? 0) }
    /// How many decompressed shards stay in memory.
    public let cachedShards: Int
    /// Loaded shards (or why they failed), the most recently used first; a failed shard is not retried.
    private let cache = Mutex<[(Int, Result<MDSShard, LensDataError>)]>([])
    /// Held while a shard is loaded, so threads that want the same shard decompress it once.
    private let loading = Mutex<Void>(())

    /// The largest raw shard accepted (256 MiB; MDS's default size_limit is 64 MiB): a 32 KB zstd
    /// frame can decompress to a gigabyte, so the index's raw size is bounded before it is believed.
    public static let maxShardBytes = 1 << 28
    /// This reader's shard loads (decompressions) so far, for tests (per reader: tests run in parallel).
    let shardLoads = Atomic<Int>(0)
    /// The largest `index.json` read.
    public static let maxIndexBytes = 64 << 20

    /// The same data set with its own cache of `cachedShards` shards (the index is not read again).
    public func withCache(of cachedShards: Int) -> MDSReader {
        MDSReader(folder: folder, shards: shards, starts: starts, cachedShards: cachedShards)
    }

    private init(folder: String, shards: [ShardInfo], starts: [Int], cachedShards: Int) {
        (self.folder, self.shards, self.starts, self.cachedShards) = (folder, shards, starts, max(1, cachedShards))
    }

    public init(folder: String, cachedShards: Int = 2) throws {
        self.folder = folder
        self.cachedShards = max(1, cachedShards)
        let path = folder + "/index.json"
        let data: [UInt8]
        do {
            let file = try FileBytes(path: path)
            guard file.count <= Self.maxIndexBytes else { throw LensDataError(path: path, "is \(file.count) bytes, more than the limit of \(Self.maxIndexBytes)") }
            data = Array(file.buffer)
        } catch let e as LensDataError where e.message.hasPrefix("cannot open") {
            throw LensDataError(path: path, "no index.json: not an MDS folder, or a run that did not finish")
        }
        guard let root = try? JSONSerialization.jsonObject(with: Data(data)) as? [String: Any] else {
            throw LensDataError(path: path, "not a JSON object")
        }
        guard root["version"] as? Int == 2, let entries = root["shards"] as? [[String: Any]] else {
            throw LensDataError(path: path, "expected {\"version\": 2, \"shards\": [...]}")
        }
        var shards: [ShardInfo] = []
        var starts: [Int] = []
        var total = 0
        for (k, e) in entries.enumerated() {
            let info = try MDSIndexEntry.parse(e, shard: k, folder: folder, indexPath: path)
            shards.append(info)
            starts.append(total)
            total += info.samples  // bounded: samples <= raw bytes / 4 <= 2^26 per shard
        }
        self.shards = shards
        self.starts = starts
    }

    /// Loads shard `k`: reads the zstd file (or the raw one), checks sizes and, when asked, hashes.
    public func loadShard(_ k: Int, checkHashes: Bool = false) throws -> MDSShard {
        shardLoads.add(1, ordering: .relaxed)
        let info = shards[k]
        var raw: [UInt8]
        if let zipName = info.zipName, FileManager.default.fileExists(atPath: folder + "/" + zipName) {
            let path = folder + "/" + zipName
            let zipped = try readFile(path)
            if let expected = info.zipBytes, zipped.count != expected {
                throw LensDataError(path: path, "is \(zipped.count) bytes, index says \(expected)")
            }
            if checkHashes { try check(info.zipHashes, zipped, path) }
            do { raw = try ZstdFrame.decompress(zipped, limit: max(info.rawBytes, 1)) } catch {
                throw LensDataError(path: path, "\(error)")
            }
        } else {
            raw = try readFile(folder + "/" + info.rawName)
        }
        let rawPath = folder + "/" + info.rawName
        guard raw.count == info.rawBytes else { throw LensDataError(path: rawPath, "raw shard is \(raw.count) bytes, index says \(info.rawBytes)") }
        if checkHashes { try check(info.rawHashes, raw, rawPath) }
        do { return try MDSShard(bytes: raw, expectedSamples: info.samples) } catch {
            throw LensDataError(path: rawPath, "\(error)")
        }
    }

    /// The shard holding sample `index` (global, in range) and the sample's index within it.
    public func location(of index: Int) -> (shard: Int, local: Int) {
        var k = 0, lo = 0, hi = starts.count - 1
        while lo <= hi { let mid = (lo + hi) / 2; if starts[mid] <= index { k = mid; lo = mid + 1 } else { hi = mid - 1 } }
        return (k, index - starts[k])
    }

    /// Shard `k`'s file (the zstd one when the index names it), as errors name it.
    public func shardPath(_ k: Int) -> String { folder + "/" + (shards[k].zipName ?? shards[k].rawName) }

    /// Sample `index` (global), as column name -> value.
    public func sample(at index: Int) throws -> [String: MDSValue] {
        guard index >= 0 && index < count else { throw LensDataError(path: folder, "sample \(index) out of range 0..<\(count)") }
        let (k, local) = location(of: index)
        let shard = try cachedShard(k)
        do {
            return try shard.withRecord(local) { try shards[k].columns.decode($0) }
        } catch {
            throw LensDataError(path: shardPath(k), "sample \(local): \(error)")
        }
    }

    /// Releases the decompressed shards this reader keeps for sequential reads (memory).
    public func dropCache() { cache.withLock { $0.removeAll() } }

    private func cachedShard(_ k: Int) throws -> MDSShard {
        func lookup() -> Result<MDSShard, LensDataError>? {
            cache.withLock { c in
                guard let i = c.firstIndex(where: { $0.0 == k }) else { return nil }
                let entry = c.remove(at: i)
                c.insert(entry, at: 0)
                return entry.1
            }
        }
        if let hit = lookup() { return try hit.get() }
        let result: Result<MDSShard, LensDataError> = loading.withLock { _ in
            if let hit = lookup() { return hit }
            let r: Result<MDSShard, LensDataError>
            do { r = .success(try loadShard(k)) } catch let e as LensDataError { r = .failure(e) } catch {
                r = .failure(LensDataError(path: shardPath(k), "\(error)"))
            }
            cache.withLock { c in
                c.removeAll { $0.0 == k }
                c.insert((k, r), at: 0)
                while c.count > cachedShards { c.removeLast() }
            }
            return r
        }
        return try result.get()
    }

    private func readFile(_ path: String) throws -> [UInt8] {
        let file = try FileBytes(path: path)
        return Array(file.buffer)
    }

    private func check(_ hashes: [String: String], _ bytes: [UInt8], _ path: String) throws {
        for (name, expected) in hashes {
            guard let algorithm = ShardHash(rawValue: name) else { continue }  // xxhash etc.: not checked
            let actual = algorithm.hexDigest(bytes)
            guard actual == expected else { throw LensDataError(path: path, "\(name) is \(actual), index says \(expected)") }
        }
    }
}
