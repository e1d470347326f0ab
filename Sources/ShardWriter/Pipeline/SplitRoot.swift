import Foundation
import LensData

/// A folder of split folders, read split by split: a preprocess output (`OUT/train`, `OUT/val`, each
/// an MDS folder with `index.json`) or a raw tree `root/<split>/<class>/*.npy` (what
/// `preprocess --keep-splits` takes).
public struct SplitRoot: Sendable {
    public enum Kind: String, Sendable {
        /// Split folders of MDS shards (a preprocess output).
        case shards
        /// Split folders of class folders of `.npy` files.
        case npy
    }

    public let root: String
    public let kind: Kind
    /// The splits, sorted by name.
    public let splits: [(name: String, source: any SampleSource)]

    public var summary: String {
        "\(root) (\(kind == .shards ? "lenspipe output" : "folder of splits"): \(splits.map(\.name).joined(separator: ", ")))"
    }

    /// The split names of `root` and what they hold, without opening them; nil when `root` is not a
    /// folder of split folders (a data set itself, a file, or missing).
    public static func detect(_ root: String) -> (kind: Kind, names: [String])? {
        guard NPYFolderSource.isDirectory(root), !FileManager.default.fileExists(atPath: root + "/index.json") else { return nil }
        let shards = MDSSource.splitFolders(under: root)
        if !shards.isEmpty { return (.shards, shards) }
        let npy = NPYFolderSource.splitFolders(under: root)
        if !npy.isEmpty { return (.npy, npy) }
        return nil
    }

    /// Opens every split of `root`; nil when `root` is not a folder of split folders.
    /// - Throws: the first split that cannot be opened, naming its folder.
    public static func open(_ root: String) throws -> SplitRoot? {
        guard let (kind, names) = detect(root) else { return nil }
        let sources: [any SampleSource] = try names.map { name in
            let folder = root + "/" + name
            return kind == .shards ? try MDSSource(folder: folder) : try NPYFolderSource(root: folder)
        }
        return SplitRoot(root: root, kind: kind, splits: Array(zip(names, sources)).map { (name: $0.0, source: $0.1) })
    }
}
