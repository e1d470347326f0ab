import Foundation
import LensData

/// Joins the part folders that `--worker i/n` runs wrote into one data set per split, in the layout
/// `streaming.base.util.merge_index` produces: the root `index.json` lists every part's shards, with
/// basenames `partNNN/shard.NNNNN.mds.zstd`.
public enum ShardMerge {
    /// - Returns: the folders that got an `index.json`, with their sample counts.
    @discardableResult
    public static func run(root: String) throws -> [(folder: String, samples: Int)] {
        let fm = FileManager.default
        var folders = [root]
        for d in (try? fm.contentsOfDirectory(atPath: root))?.sorted() ?? [] where NPYFolderSource.isDirectory(root + "/" + d) && !d.hasPrefix("part") {
            folders.append(root + "/" + d)
        }
        var merged: [(String, Int)] = []
        for folder in folders {
            let parts = ((try? fm.contentsOfDirectory(atPath: folder)) ?? []).filter {
                $0.hasPrefix("part") && fm.fileExists(atPath: "\(folder)/\($0)/index.json")
            }.sorted()
            guard !parts.isEmpty else { continue }
            var shards: [PythonJSON] = []
            var samples = 0
            for part in parts {
                let path = "\(folder)/\(part)/index.json"
                guard let data = fm.contents(atPath: path), let root = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                      let entries = root["shards"] as? [[String: Any]] else {
                    throw LensDataError(path: path, "not an MDS index")
                }
                for e in entries {
                    var entry = try PythonJSON(any: e, path: path)
                    guard case .object(var dict) = entry else { continue }
                    for key in ["raw_data", "zip_data"] {
                        if case .object(var d)? = dict[key], case .string(let b)? = d["basename"] {
                            guard MDSIndexEntry.staysInside(b) else { throw LensDataError(path: path, "\(key).basename '\(b)' leaves the part's folder") }
                            d["basename"] = .string(part + "/" + b)
                            dict[key] = .object(d)
                        }
                    }
                    if case .int(let n)? = dict["samples"] { samples += n }
                    entry = .object(dict)
                    shards.append(entry)
                }
            }
            let text = PythonJSON.object(["shards": .array(shards), "version": .int(2)]).text
            try AtomicFile.write(path: folder + "/index.json", parts: [Array(text.utf8)])
            merged.append((folder, samples))
        }
        // Worker metadata -> lenspipe.json.
        let workerFiles = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasPrefix("lenspipe.worker-") }.sorted()
        if !workerFiles.isEmpty, let meta = DatasetMetadata.merged(try workerFiles.map { try DatasetMetadata.read(from: root + "/" + $0) }) {
            try meta.write(to: root + "/lenspipe.json")
        }
        // Workers' per-input lists -> skipped.jsonl, changed.jsonl (each line is one JSON object).
        for list in ["skipped", "changed"] {
            let files = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasPrefix(list + ".worker-") && $0.hasSuffix(".jsonl") }.sorted()
            guard !files.isEmpty else { continue }
            let parts = try files.map { Array(try FileBytes(path: root + "/" + $0).buffer) }
            try AtomicFile.write(path: root + "/\(list).jsonl", parts: parts)
        }
        return merged
    }
}

extension PythonJSON {
    /// Converts a `JSONSerialization` value back (for rewriting indexes).
    init(any value: Any, path: String) throws {
        switch value {
        case is NSNull: self = .null
        case let n as NSNumber:
            self = .int(n.intValue)  // MDS indexes hold no booleans or fractions
        case let s as String: self = .string(s)
        case let a as [Any]: self = .array(try a.map { try PythonJSON(any: $0, path: path) })
        case let d as [String: Any]: self = .object(try d.mapValues { try PythonJSON(any: $0, path: path) })
        default: throw LensDataError(path: path, "unexpected JSON value \(value)")
        }
    }
}
