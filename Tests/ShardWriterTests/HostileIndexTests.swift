import Foundation
import Testing
@testable import ShardWriter
import LensData
import _TestSupport

/// index.json files that lie (issue 12, item 5): every field is checked against the shard files and
/// sane limits before anything is sized by it, and a shard is decompressed once however many of its
/// samples are asked for.
@Suite struct HostileIndexTests {
    /// A small valid folder: 40 samples of an 8x8 float32 image, an id and a label, in 2 zstd shards.
    static func folder() throws -> String {
        let dir = TestSupport.tempDir("mds-hostile")
        let columns = MDSColumns(["image": .staticArray(.float32, [1, 8, 8]), "id": .str, "label": .int])
        let writer = try MDSWriter(folder: dir, columns: columns, sizeLimit: 6000)
        for i in 0..<40 {
            let px = NPYWriter.littleEndianBytes((0..<64).map { Float(i + $0).bitPattern })
            try writer.write(["image": .array(.float32, [1, 8, 8], px), "id": .string("s\(i)"), "label": .int(Int64(i % 3))])
        }
        try writer.finish()
        return dir
    }

    static func index(_ dir: String) throws -> [String: Any] {
        try TestSupport.json(String(contentsOfFile: dir + "/index.json", encoding: .utf8))
    }

    static func write(_ index: [String: Any], to dir: String) throws {
        try JSONSerialization.data(withJSONObject: index, options: [.sortedKeys]).write(to: URL(fileURLWithPath: dir + "/index.json"))
    }

    /// Sets `shards[0][key]` (or `shards[0][key][sub]`) and returns the reader's error.
    func refusal(_ key: String, _ sub: String? = nil, _ value: Any) throws -> LensDataError? {
        let dir = try Self.folder()
        var index = try Self.index(dir)
        var shards = index["shards"] as! [[String: Any]]
        if let sub { var d = shards[0][key] as! [String: Any]; d[sub] = value; shards[0][key] = d } else { shards[0][key] = value }
        index["shards"] = shards
        try Self.write(index, to: dir)
        do { _ = try MDSReader(folder: dir); return nil } catch let e as LensDataError { return e }
    }

    @Test(arguments: [1 << 62, 1 << 40, 1 << 28, 2_000])
    func sampleCountsBeyondWhatTheRawSizeHolds(_ samples: Int) throws {
        let e = try #require(try refusal("samples", nil, samples))
        #expect(e.path.hasSuffix("/index.json") && e.message.contains("shard 0: samples is \(samples)"), "\(e)")
        #expect(e.message.contains("holds at most"))
    }

    @Test func rawAndZipSizesMustMatchTheFiles() throws {
        #expect(try refusal("raw_data", "bytes", 1 << 30)?.message.contains("raw_data.bytes is 1073741824, expected 8...") == true)
        #expect(try refusal("raw_data", "bytes", 5900)?.message.contains("raw_data.bytes says 5900") == true)
        #expect(try refusal("zip_data", "bytes", 7)?.message.contains("zip_data.bytes says 7") == true)
        #expect(try refusal("samples", nil, -1)?.message.contains("expected a count") == true)
        #expect(try refusal("samples", nil, true)?.message.contains("expected a count") == true)
        #expect(try refusal("samples", nil, 2.5)?.message.contains("expected a count") == true)
        #expect(try refusal("column_encodings", nil, ["str", "ndarray:float32:4294967296,4294967296", "int"])?.message.contains("2^32 bytes") == true)
        #expect(try refusal("raw_data", "basename", "../../etc/passwd")?.message.contains("leaves the data set folder") == true)
    }

    /// A 40 KB shard whose frame decompresses to 1 GiB, its index updated to match: refused from
    /// the index alone, before a byte is decompressed.
    @Test func zstdBombIsRefusedFromTheIndex() throws {
        let dir = try Self.folder()
        let zipped = Int(try TestSupport.pythonHelper("make_zstd_bomb.py", [dir, String(1 << 30)]).trimmingCharacters(in: .whitespacesAndNewlines))!
        #expect(zipped < 100_000)
        #expect(throws: LensDataError.self) { try MDSReader(folder: dir) }
        let r = try TestSupport.run("/usr/bin/time", ["-f", "%M", TestSupport.lenspipeBinary, "verify", dir], timeout: 60)
        #expect(r.status == 1 && r.stdout.contains("raw_data.bytes is 1073741824"), "\(r.stdout)")
        let peakKB = Int(r.stderr.split(separator: "\n").last ?? "") ?? .max
        #expect(peakKB < 300_000, "verify peaked at \(peakKB) KB")
    }

    /// A bomb under the limit (96 MiB of zeros after a valid shard): decompressed once, its failure
    /// remembered, so reading all its samples costs one decompression, not one per sample.
    @Test func aBadShardIsDecompressedOnce() throws {
        let dir = try Self.folder()
        try TestSupport.pythonHelper("make_zstd_bomb.py", [dir, String(96 << 20)])
        let reader = try MDSReader(folder: dir)
        let before = reader.shardLoads.load(ordering: .relaxed)
        var failures = 0
        for i in 0..<reader.shards[0].samples { do { _ = try reader.sample(at: i) } catch { failures += 1 } }
        #expect(failures == reader.shards[0].samples)
        #expect(reader.shardLoads.load(ordering: .relaxed) - before == 1)
    }

    /// Random hostile values in every index field: each index is refused with a `LensDataError`, or
    /// opens and every sample reads or throws. Nothing traps, hangs or allocates by a declared size.
    @Test func fuzzedIndexFields() throws {
        let dir = try Self.folder()
        let original = try Self.index(dir)
        let values: [Any] = [-1, 0, 1, 7, 2_000, 1 << 28, 1 << 31, 1 << 32, 1 << 40, 1 << 62, Int.max, 2.5, true, "x", NSNull(), [1], ["a": 1]]
        let paths: [(String, String?)] = [("samples", nil), ("raw_data", "bytes"), ("zip_data", "bytes"), ("size_limit", nil), ("version", nil),
                                          ("column_sizes", nil), ("raw_data", "basename"), ("zip_data", "basename"), ("column_encodings", nil)]
        let encodings: [Any] = [["ndarray:float32:1,8,8", "str", "int"], ["ndarray:float32:0", "str", "int"], ["ndarray:float32:1,,8", "str", "int"],
                                ["ndarray:float64:65536,65536", "str", "int"], ["ndarray:float32:9223372036854775807,2", "str", "int"], ["str"]]
        var rng = Philox4x64(seed: 12, stream: 5)
        var outcomes = (refused: 0, opened: 0)
        for _ in 0..<300 {
            var index = original
            var shards = index["shards"] as! [[String: Any]]
            for _ in 0..<(1 + Int(rng.next() % 3)) {
                let k = Int(rng.next() % UInt64(shards.count))
                let (key, sub) = paths[Int(rng.next() % UInt64(paths.count))]
                let value = key == "column_encodings" ? encodings[Int(rng.next() % UInt64(encodings.count))] : values[Int(rng.next() % UInt64(values.count))]
                if let sub, var d = shards[k][key] as? [String: Any] { d[sub] = value; shards[k][key] = d } else { shards[k][key] = value }
            }
            switch rng.next() % 6 {
            case 0: shards.append(shards[0])  // a duplicated entry
            case 1: shards.removeLast()
            default: break
            }
            index["shards"] = shards
            try Self.write(index, to: dir)
            do {
                let reader = try MDSReader(folder: dir)
                outcomes.opened += 1
                #expect(reader.count <= 80)
                for i in 0..<reader.count { _ = try? reader.sample(at: i) }
            } catch is LensDataError {
                outcomes.refused += 1
            }
        }
        #expect(outcomes.refused > 150)
    }
}

/// Issue 36, item 19: `merge` refuses a part index whose shard basename climbs out of the part.
@Suite struct HostileMergeTests {
    @Test func aPartBasenameThatClimbsOut() throws {
        let root = TestSupport.tempDir("merge-climb")
        try FileManager.default.createDirectory(atPath: root + "/part000", withIntermediateDirectories: true)
        let index = #"{"shards": [{"column_encodings": ["int"], "column_names": ["label"], "column_sizes": [8], "compression": null, "format": "mds", "hashes": [], "raw_data": {"basename": "../../elsewhere/shard.00000.mds", "bytes": 100, "hashes": {}}, "samples": 1, "size_limit": 67108864, "version": 2, "zip_data": null}], "version": 2}"#
        try index.write(toFile: root + "/part000/index.json", atomically: true, encoding: .utf8)
        #expect(throws: LensDataError.self) { try ShardMerge.run(root: root) }
        #expect(!FileManager.default.fileExists(atPath: root + "/index.json"))
    }
}
