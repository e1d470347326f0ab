import Foundation
import LensData

/// `lenspipe verify`: re-reads every shard of a data set and decodes every sample.
public enum ShardVerify {
    public struct FolderReport: Codable, Sendable {
        public var folder: String
        public var shards: Int
        public var samples: Int
        public var classes: [String: Int]
        public var targets: Int
        public var bytes: Int
    }

    public struct Report: Codable, Sendable {
        public var folders: [FolderReport]
        /// Every defect found, each naming the file.
        public var defects: [String]
    }

    /// Checks offsets, sizes, hashes (when recorded) and zstd checksums, and decodes every sample of
    /// every MDS folder under `root` (the root itself and its split folders); then that each index
    /// lists every shard file once and no other, that no folder is left that no index accounts for,
    /// and that every count matches `lenspipe.json` (when there is one).
    public static func run(root: String, threads: Int, progress: (@Sendable (Int) -> Void)? = nil) -> Report {
        let fm = FileManager.default
        var folders: [String] = []
        var defects: [String] = []
        if fm.fileExists(atPath: root + "/index.json") { folders.append(root) }
        for d in ((try? fm.contentsOfDirectory(atPath: root)) ?? []).sorted() where NPYFolderSource.isDirectory(root + "/" + d) {
            let sub = root + "/" + d
            if fm.fileExists(atPath: sub + "/index.json") {
                if !d.hasPrefix("part") || folders.isEmpty { folders.append(sub) }
            } else if ((try? fm.contentsOfDirectory(atPath: sub)) ?? []).contains(where: { $0.hasPrefix("part") }) {
                defects.append("\(sub): holds part folders but no index.json (run `lenspipe merge \(root)`)")
            }
        }
        // A root index that merges parts already covers them; don't count parts twice.
        if folders.first == root { folders = folders.filter { $0 == root || !$0.hasPrefix(root + "/part") } }
        if folders.isEmpty { defects.append("\(root): no index.json here or in its split folders") }
        var metadata: DatasetMetadata?
        if fm.fileExists(atPath: root + "/lenspipe.json") {
            do { metadata = try DatasetMetadata.read(from: root + "/lenspipe.json") } catch { defects.append("\(error)") }
        }
        let classes = metadata?.classes ?? classNames(near: root)
        var reports: [FolderReport] = []
        var readers: [String: MDSReader] = [:]
        for folder in folders {
            let reader: MDSReader
            do { reader = try MDSReader(folder: folder) } catch { defects.append("\(error)"); continue }
            readers[folder] = reader
            defects += IndexCoverage.defects(folder: folder, reader: reader)
            struct Part: Sendable { var samples = 0; var targets = 0; var classes: [String: Int] = [:]; var bytes = 0; var defects: [String] = [] }
            let parts = ParallelRunner.map(count: reader.shards.count, chunkSize: 1, threads: threads) { range -> Part in
                var p = Part()
                for k in range {
                    do {
                        let shard = try reader.loadShard(k, checkHashes: true)
                        p.bytes += reader.shards[k].zipBytes ?? reader.shards[k].rawBytes
                        for i in 0..<shard.count {
                            do {
                                let values = try shard.withRecord(i) { try reader.shards[k].columns.decode($0) }
                                let s = try ShardSample(values, index: reader.starts[k] + i)
                                if let l = s.label, !classes.isEmpty, l >= classes.count {
                                    throw MDSError("label \(l) is outside the data set's \(classes.count) classes (0...\(classes.count - 1))")
                                }
                                p.samples += 1
                                if s.target != nil { p.targets += 1 }
                                let name = s.label.map { $0 < classes.count ? classes[$0] : String($0) } ?? "(unlabelled)"
                                p.classes[name, default: 0] += 1
                            } catch {
                                p.defects.append("\(folder)/\(reader.shards[k].zipName ?? reader.shards[k].rawName): sample \(i): \(error)")
                            }
                        }
                    } catch {
                        p.defects.append("\(error)")
                    }
                    progress?(k)
                }
                return p
            }
            var report = FolderReport(folder: folder, shards: reader.shards.count, samples: 0, classes: [:], targets: 0, bytes: 0)
            for p in parts {
                report.samples += p.samples
                report.targets += p.targets
                report.bytes += p.bytes
                report.classes.merge(p.classes, uniquingKeysWith: +)
                defects += p.defects
            }
            if report.samples != reader.count { defects.append("\(folder): index lists \(reader.count) samples, \(report.samples) decoded") }
            reports.append(report)
        }
        defects += IndexCoverage.unaccountedFolders(root: root, verified: folders, readers: readers)
        if let metadata { defects += IndexCoverage.compare(metadata, root: root, reports: reports, verified: folders) }
        return Report(folders: reports, defects: defects)
    }

    /// Class names for a root without its own `lenspipe.json`: one MDS folder's parent's (a split of a
    /// preprocess output), else a worker's `lenspipe.worker-III-of-NNN` (parts not merged yet); empty
    /// when none is found (labels are then shown as numbers).
    static func classNames(near root: String) -> [String] {
        let fm = FileManager.default
        let parent = (root as NSString).deletingLastPathComponent
        if fm.fileExists(atPath: root + "/index.json"), let m = try? DatasetMetadata.read(from: (parent.isEmpty ? "." : parent) + "/lenspipe.json") {
            return m.classes
        }
        let workers = ((try? fm.contentsOfDirectory(atPath: root)) ?? []).filter { $0.hasPrefix("lenspipe.worker-") }.sorted()
        return workers.lazy.compactMap { try? DatasetMetadata.read(from: root + "/" + $0) }.first?.classes ?? []
    }
}
