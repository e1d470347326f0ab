import Foundation

/// Per-image `.npy` files: either class folders (`root/<class>/*.npy`, classes sorted by name get
/// labels 0..K-1, files sorted by name) or one flat folder of `.npy` files (no labels).
///
/// Object-array files (`[image, mass]`) yield the mass as the sample's target.
public struct NPYFolderSource: SampleSource {
    public let root: String
    public let classes: [String]
    /// Paths relative to `root`, with their labels. A name that is not UTF-8 appears with its
    /// invalid bytes written `\xNN` (see `RawName`); `rawPaths` has the bytes to open.
    public let entries: [(path: String, label: Int?)]
    /// `entries`' relative paths as stored (bytes), for opening.
    public let rawPaths: [[UInt8]]

    public var count: Int { entries.count }
    public var summary: String {
        classes.isEmpty ? "\(count) .npy files in \(root)" : "\(classes.count) class folders with \(count) .npy files under \(root)"
    }

    public init(root: String) throws {
        self.root = root
        let rootBytes = Array(root.utf8)
        func under(_ parts: [UInt8]...) -> [UInt8] { parts.reduce(rootBytes) { $0 + [0x2F] + $1 } }
        let npy = Array(".npy".utf8)
        let top = try RawDirectory.list(rootBytes, display: root)
        let npyHere = top.filter { $0.bytes.hasSuffix(npy) && !RawDirectory.isDirectory(under($0.bytes)) }
        let folders = top.filter { $0.bytes.first != 0x2E && RawDirectory.isDirectory(under($0.bytes)) }
        var classes: [String] = []
        var entries: [(String, Int?)] = []
        var raw: [[UInt8]] = []
        for folder in folders {
            let files = try RawDirectory.list(under(folder.bytes), display: root + "/" + folder.display).filter { $0.bytes.hasSuffix(npy) }
            guard !files.isEmpty else { continue }
            let label = classes.count
            classes.append(folder.display)
            entries += files.map { ("\(folder.display)/\($0.display)", label) }
            raw += files.map { folder.bytes + [0x2F] + $0.bytes }
        }
        if !classes.isEmpty && !npyHere.isEmpty {
            throw LensDataError(path: root, "holds both .npy files and class folders (\(classes.joined(separator: ", "))); expected one or the other")
        }
        if classes.isEmpty {
            entries = npyHere.map { ($0.display, nil) }
            raw = npyHere.map(\.bytes)
        }
        guard !entries.isEmpty else {
            if top.contains(where: { $0.bytes == Array("index.json".utf8) }) {
                throw LensDataError(path: root, "holds MDS shards (index.json, a lenspipe preprocess output), not .npy files")
            }
            let shards = folders.filter { RawDirectory.isFile(under($0.bytes, Array("index.json".utf8))) }
            if !shards.isEmpty {
                throw LensDataError(path: root, "is a lenspipe output with splits \(shards.map(\.display).joined(separator: ", ")) (MDS shards), not a folder of .npy files")
            }
            let splits = Self.splitFolders(under: root)
            if !splits.isEmpty {
                throw LensDataError(path: root, "is a folder of splits \(splits.joined(separator: ", ")) (class folders in each): pass one of "
                                    + splits.map { "\(root)/\($0)" }.joined(separator: ", ") + " (preprocess --keep-splits takes the whole folder)")
            }
            throw LensDataError(path: root, "no .npy files found (expected root/<class>/*.npy or root/*.npy)")
        }
        self.classes = classes
        self.entries = entries.map { (path: $0.0, label: $0.1) }
        self.rawPaths = raw
    }

    /// The split folders of `root` when it is a folder of splits (`root/train/<class>/*.npy`,
    /// `root/test/...`): its subfolders (not hidden) that hold class folders with `.npy` files, sorted.
    /// Empty when `root` holds `.npy` files itself or none of its folders holds class folders.
    public static func splitFolders(under root: String) -> [String] {
        let rootBytes = Array(root.utf8)
        func under(_ parts: [UInt8]...) -> [UInt8] { parts.reduce(rootBytes) { $0 + [0x2F] + $1 } }
        let npy = Array(".npy".utf8)
        guard let top = try? RawDirectory.list(rootBytes, display: root) else { return [] }
        let folders = top.filter { $0.bytes.first != 0x2E && RawDirectory.isDirectory(under($0.bytes)) }
        if top.contains(where: { $0.bytes.hasSuffix(npy) && !RawDirectory.isDirectory(under($0.bytes)) }) { return [] }
        return folders.filter { split in
            let inner = (try? RawDirectory.list(under(split.bytes), display: "")) ?? []
            if inner.contains(where: { $0.bytes.hasSuffix(npy) && !RawDirectory.isDirectory(under(split.bytes, $0.bytes)) }) { return false }
            return inner.contains { c in
                c.bytes.first != 0x2E && RawDirectory.isDirectory(under(split.bytes, c.bytes))
                    && ((try? RawDirectory.list(under(split.bytes, c.bytes), display: "")) ?? []).contains { $0.bytes.hasSuffix(npy) }
            }
        }.map(\.display)
    }

    public func id(at index: Int) -> String { entries[index].path }

    /// The sizes of the files (a `stat` each).
    public var storedBytes: Int? {
        var total = 0
        for raw in rawPaths {
            var st = stat()
            if stat(RawDirectory.cPath(Array(root.utf8) + [0x2F] + raw), &st) == 0 { total += Int(st.st_size) }
        }
        return total
    }

    public func label(at index: Int) -> Int? { entries[index].label }

    public func sample(at index: Int) throws -> Sample {
        let entry = entries[index]
        let read = try NPYFile.readImage(rawPath: Array(root.utf8) + [0x2F] + rawPaths[index], display: root + "/" + entry.path)
        var sample = Sample(id: entry.path, image: read.image, label: entry.label, target: read.target, stored: read.stored)
        sample.droppedTargets = read.droppedTargets
        return sample
    }

    /// The entries of a folder, sorted by their UTF-8 bytes (as Python sorts names).
    public static func list(_ dir: String) throws -> [String] {
        do {
            return try FileManager.default.contentsOfDirectory(atPath: dir).sorted { $0.utf8.lexicographicallyPrecedes($1.utf8) }
        } catch {
            throw LensDataError(path: dir, "cannot list folder: \(error.localizedDescription)")
        }
    }

    /// True when `path` is a folder.
    public static func isDirectory(_ path: String) -> Bool {
        var isDir: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue
    }
}

extension Array where Element == UInt8 {
    fileprivate func hasSuffix(_ suffix: [UInt8]) -> Bool { count >= suffix.count && Array(self[(count - suffix.count)...]) == suffix }
}
