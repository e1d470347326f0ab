import Foundation
import LensData
import Synchronization

/// Reads an MDS data set: `index.json`, then samples by global index across shards.
///
/// Shards are decompressed whole (one zstd frame) and indexed with their offset table; the two most
/// recently used stay in memory. Safe to use from several threads. Reads shards written by lenspipe
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
    private let cache = Mutex<[(Int, MDSShard)]>([])

    public init(folder: String) throws {
        self.folder = folder
        let path = folder + "/index.json"
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LensDataError(path: path, "no index.json: not an MDS folder, or a run that did not finish")
        }
        guard let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any] else {
            throw LensDataError(path: path, "not a JSON object")
        }
        guard root["version"] as? Int == 2, let entries = root["shards"] as? [[String: Any]] else {
            throw LensDataError(path: path, "expected {\"version\": 2, \"shards\": [...]}")
        }
        let keys: Set<String> = ["column_encodings", "column_names", "column_sizes", "compression", "format", "hashes",
                                 "raw_data", "samples", "size_limit", "version", "zip_data"]
        var shards: [ShardInfo] = []
        var starts: [Int] = []
        var total = 0
        for (k, e) in entries.enumerated() {
            func fail(_ m: String) -> LensDataError { LensDataError(path: path, "shard \(k): \(m)") }
            guard Set(e.keys) == keys else { throw fail("keys must be exactly \(keys.sorted()), found \(e.keys.sorted())") }
            guard e["format"] as? String == "mds", e["version"] as? Int == 2 else { throw fail("format must be mds, version 2") }
            guard let names = e["column_names"] as? [String], let encs = e["column_encodings"] as? [String], names.count == encs.count,
                  let samples = e["samples"] as? Int, samples >= 0,
                  let raw = e["raw_data"] as? [String: Any], let rawName = raw["basename"] as? String, let rawBytes = raw["bytes"] as? Int else {
                throw fail("column_names, column_encodings, samples or raw_data malformed")
            }
            let encodings: [MDSEncoding]
            do { encodings = try encs.map { try MDSEncoding($0) } } catch { throw fail("\(error)") }
            let zip = e["zip_data"] as? [String: Any]
            if zip != nil, let c = e["compression"] as? String, !c.hasPrefix("zstd") {
                throw fail("compression '\(c)' is not supported (lenspipe reads zstd and uncompressed shards)")
            }
            for name in [rawName, zip?["basename"] as? String].compactMap({ $0 }) where name.contains("..") || name.hasPrefix("/") {
                throw fail("basename '\(name)' leaves the data set folder")
            }
            shards.append(ShardInfo(rawName: rawName, rawBytes: rawBytes, rawHashes: raw["hashes"] as? [String: String] ?? [:],
                                    zipName: zip?["basename"] as? String, zipBytes: zip?["bytes"] as? Int,
                                    zipHashes: zip?["hashes"] as? [String: String] ?? [:], samples: samples,
                                    columns: MDSColumns(names: names, encodings: encodings)))
            starts.append(total)
            total += samples
        }
        self.shards = shards
        self.starts = starts
    }

    /// Loads shard `k`: reads the zstd file (or the raw one), checks sizes and, when asked, hashes.
    public func loadShard(_ k: Int, checkHashes: Bool = false) throws -> MDSShard {
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

    /// Sample `index` (global), as column name -> value.
    public func sample(at index: Int) throws -> [String: MDSValue] {
        guard index >= 0 && index < count else { throw LensDataError(path: folder, "sample \(index) out of range 0..<\(count)") }
        var k = 0, lo = 0, hi = starts.count - 1
        while lo <= hi { let mid = (lo + hi) / 2; if starts[mid] <= index { k = mid; lo = mid + 1 } else { hi = mid - 1 } }
        let shard = try cachedShard(k)
        do {
            return try shard.withRecord(index - starts[k]) { try shards[k].columns.decode($0) }
        } catch {
            throw LensDataError(path: folder + "/" + (shards[k].zipName ?? shards[k].rawName), "sample \(index - starts[k]): \(error)")
        }
    }

    /// Releases the decompressed shards this reader keeps for sequential reads (memory).
    public func dropCache() { cache.withLock { $0.removeAll() } }

    private func cachedShard(_ k: Int) throws -> MDSShard {
        if let hit = cache.withLock({ $0.first { $0.0 == k }?.1 }) { return hit }
        let shard = try loadShard(k)
        cache.withLock { c in
            c.removeAll { $0.0 == k }
            c.insert((k, shard), at: 0)
            if c.count > 2 { c.removeLast() }
        }
        return shard
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
