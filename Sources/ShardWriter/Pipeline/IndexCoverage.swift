import Foundation
import LensData

/// The checks of `verify` that look past the shards themselves: is every shard file listed once,
/// is every folder accounted for, do the counts match `lenspipe.json`?
enum IndexCoverage {
    /// Shard entries listed twice, and `shard.*` files (in the folder or the part folders its
    /// basenames point into) that the index does not list.
    static func defects(folder: String, reader: MDSReader) -> [String] {
        var defects: [String] = []
        var listed = Set<String>()
        for (k, s) in reader.shards.enumerated() {
            let name = s.zipName ?? s.rawName
            if !listed.insert(name).inserted { defects.append("\(folder)/index.json: shard \(k) lists \(name) again") }
            listed.insert(s.rawName)
        }
        var places = Set([""])
        for name in listed where name.contains("/") { places.insert(String(name[..<name.lastIndex(of: "/")!]) + "/") }
        for place in places.sorted() {
            let files = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/" + place)) ?? []
            for f in files.sorted() where f.hasPrefix("shard.") && !listed.contains(place + f) {
                defects.append("\(folder)/\(place)\(f): a shard file that index.json does not list")
            }
        }
        return defects
    }

    /// Folders under `root` that no index covers: not verified, not a part folder that a verified
    /// index points into (stale splits of an earlier run, for instance).
    static func unaccountedFolders(root: String, verified: [String], readers: [String: MDSReader]) -> [String] {
        var covered = Set(verified)
        for (folder, reader) in readers {
            for s in reader.shards {
                let name = s.zipName ?? s.rawName
                if let slash = name.lastIndex(of: "/") { covered.insert(folder + "/" + name[..<slash]) }
            }
        }
        var defects: [String] = []
        for d in ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? []).sorted() where NPYFolderSource.isDirectory(root + "/" + d) {
            let sub = root + "/" + d
            if covered.contains(sub) { continue }
            // A split folder whose parts are covered by its own index is accounted for.
            if verified.contains(where: { $0.hasPrefix(sub + "/") }) { continue }
            if !FileManager.default.fileExists(atPath: sub + "/index.json"),
               ((try? FileManager.default.contentsOfDirectory(atPath: sub)) ?? []).contains(where: { $0.hasPrefix("part") }) {
                continue  // reported already: part folders waiting for `lenspipe merge`
            }
            defects.append("\(sub): a folder that no index.json accounts for (left from an earlier run?)")
        }
        return defects
    }

    /// Every split of `lenspipe.json` verified with its image and class counts, and no verified
    /// folder that it does not name.
    static func compare(_ meta: DatasetMetadata, root: String, reports: [ShardVerify.FolderReport], verified: [String]) -> [String] {
        let path = root + "/lenspipe.json"
        var defects: [String] = []
        let byFolder = Dictionary(reports.map { ($0.folder, $0) }, uniquingKeysWith: { a, _ in a })
        for name in meta.splits.keys.sorted() {
            let expected = meta.splits[name]!
            let folder = name.isEmpty ? root : root + "/" + name
            guard let r = byFolder[folder] else {
                if !verified.contains(folder) { defects.append("\(path): split '\(name)' of \(expected.images) images has no MDS folder at \(folder)") }
                continue
            }
            if r.samples != expected.images {
                defects.append("\(folder): \(r.samples) samples, lenspipe.json says \(expected.images)")
            } else if !expected.classes.isEmpty, r.classes != expected.classes {
                defects.append("\(folder): classes \(r.classes.sorted { $0.key < $1.key }), lenspipe.json says \(expected.classes.sorted { $0.key < $1.key })")
            }
        }
        let named = Set(meta.splits.keys.map { $0.isEmpty ? root : root + "/" + $0 })
        for folder in verified where !named.contains(folder) {
            defects.append("\(folder): an MDS folder that lenspipe.json does not list (left from an earlier run?)")
        }
        return defects
    }
}
