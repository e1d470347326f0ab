import Foundation
import LensData

/// One shard entry of an MDS `index.json`, checked against sane limits and against the shard files
/// on disk before anything is sized by it.
enum MDSIndexEntry {
    /// Whether a shard's `basename` names a file inside the data set folder (no `..`, not absolute, not empty).
    static func staysInside(_ basename: String) -> Bool { !(basename.contains("..") || basename.hasPrefix("/") || basename.isEmpty) }

    static let keys: Set<String> = ["column_encodings", "column_names", "column_sizes", "compression", "format", "hashes",
                                    "raw_data", "samples", "size_limit", "version", "zip_data"]

    /// - Throws: `LensDataError` naming `index.json`, the shard and the field.
    static func parse(_ e: [String: Any], shard k: Int, folder: String, indexPath path: String) throws -> MDSReader.ShardInfo {
        func fail(_ m: String) -> LensDataError { LensDataError(path: path, "shard \(k): \(m)") }
        guard Set(e.keys) == keys else { throw fail("keys must be exactly \(keys.sorted()), found \(e.keys.sorted())") }
        guard e["format"] as? String == "mds", integer(e["version"]) == 2 else { throw fail("format must be mds, version 2") }
        guard let names = e["column_names"] as? [String], let encs = e["column_encodings"] as? [String], names.count == encs.count,
              !names.isEmpty, Set(names).count == names.count else {
            throw fail("column_names and column_encodings must be lists of the same length, names distinct")
        }
        guard let raw = e["raw_data"] as? [String: Any], let rawName = raw["basename"] as? String else { throw fail("raw_data.basename missing") }
        guard let rawBytes = integer(raw["bytes"]), rawBytes >= 8, rawBytes <= MDSReader.maxShardBytes else {
            throw fail("raw_data.bytes is \(raw["bytes"] ?? "missing"), expected 8...\(MDSReader.maxShardBytes) (the raw shard size limit)")
        }
        guard let samples = integer(e["samples"]), samples >= 0 else { throw fail("samples is \(e["samples"] ?? "missing"), expected a count >= 0") }
        let encodings: [MDSEncoding]
        do { encodings = try encs.map { try MDSEncoding($0) } } catch { throw fail("\(error)") }
        // Each sample needs a 4-byte offset, its fixed-size columns and a 4-byte size per variable column.
        let perSample = 4 + encodings.reduce(0) { $0 + ($1.fixedSize ?? 4) }
        guard samples <= (rawBytes - 8) / perSample else {
            throw fail("samples is \(samples), but a raw shard of \(rawBytes) bytes holds at most \((rawBytes - 8) / perSample) samples of at least \(perSample) bytes")
        }
        let zip = e["zip_data"] as? [String: Any]
        if zip != nil, let c = e["compression"] as? String, !c.hasPrefix("zstd") {
            throw fail("compression '\(c)' is not supported (lenspipe reads zstd and uncompressed shards)")
        }
        let zipName = zip?["basename"] as? String
        for name in [rawName, zipName].compactMap({ $0 }) where !Self.staysInside(name) {
            throw fail("basename '\(name)' leaves the data set folder")
        }
        var zipBytes: Int?
        if let zip {
            guard zipName != nil, let z = integer(zip["bytes"]), z >= 1, z <= MDSReader.maxShardBytes else {
                throw fail("zip_data needs a basename and bytes in 1...\(MDSReader.maxShardBytes), found \(zip)")
            }
            zipBytes = z
        }
        try checkFiles(folder: folder, rawName: rawName, rawBytes: rawBytes, zipName: zipName, zipBytes: zipBytes, fail: fail)
        return MDSReader.ShardInfo(rawName: rawName, rawBytes: rawBytes, rawHashes: raw["hashes"] as? [String: String] ?? [:],
                                   zipName: zipName, zipBytes: zipBytes, zipHashes: zip?["hashes"] as? [String: String] ?? [:],
                                   samples: samples, columns: MDSColumns(names: names, encodings: encodings))
    }

    /// The shard file must exist with the declared size; a zstd frame must declare the raw size.
    private static func checkFiles(folder: String, rawName: String, rawBytes: Int, zipName: String?, zipBytes: Int?,
                                   fail: (String) -> LensDataError) throws {
        if let zipName, let zipBytes, let size = fileSize(folder + "/" + zipName) {
            guard size == zipBytes else { throw fail("\(zipName) is \(size) bytes, zip_data.bytes says \(zipBytes)") }
            let declared = ZstdFrame.contentSize(path: folder + "/" + zipName)
            guard declared == UInt64(rawBytes) else {
                throw fail("\(zipName) is a zstd frame of \(declared.map(String.init) ?? "unknown") bytes, raw_data.bytes says \(rawBytes)")
            }
            return
        }
        guard let size = fileSize(folder + "/" + rawName) else {
            throw fail("neither \(zipName ?? "(no zip_data)") nor \(rawName) is a file in \(folder)")
        }
        guard size == rawBytes else { throw fail("\(rawName) is \(size) bytes, raw_data.bytes says \(rawBytes)") }
    }

    /// Size of a regular file, nil when there is none.
    static func fileSize(_ path: String) -> Int? {
        guard let a = try? FileManager.default.attributesOfItem(atPath: path), a[.type] as? FileAttributeType == .typeRegular else { return nil }
        return (a[.size] as? NSNumber)?.intValue
    }

    /// A JSON integer (not a boolean, not a fraction).
    static func integer(_ v: Any?) -> Int? {
        guard let n = v as? NSNumber, n.objCType.pointee != CChar(UInt8(ascii: "c")) else { return nil }  // "c": a JSON boolean
        guard let i = v as? Int, Double(i) == n.doubleValue else { return nil }
        return i
    }
}
