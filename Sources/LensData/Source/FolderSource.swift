import Foundation

/// Per-image files in a folder, `.npy` or FITS: either class folders (`root/<class>/*.npy`, classes
/// sorted by name get labels 0..K-1, files sorted by name) or one flat folder of files (no labels).
///
/// The format is what the files are: `.npy`, or FITS (`.fits`, `.fit`, `.fts`, any letter case,
/// optionally `.gz`). A folder that holds both is an error naming one file of each. Ids are paths
/// relative to `root`.
/// - `.npy`: object-array files (`[image, mass]`) yield the mass as the sample's target.
/// - FITS: the first HDU with an image; a 2-D image, or a 3-D one of up to 4 planes (channels).
public struct FolderSource: SampleSource {
    /// What the files in a folder are.
    public enum Format: String, Sendable, CaseIterable {
        case npy, fits

        /// True when a file name (bytes, as listed) is one of this format's.
        public func matches(_ name: [UInt8]) -> Bool {
            switch self {
            case .npy: return name.count > 4 && Array(name.suffix(4)) == Array(".npy".utf8)
            case .fits: return FITSLocation.isFITSName(name)
            }
        }

        /// For messages: `".npy"`, `"FITS (.fits, .fit, .fts, .gz)"`.
        public var files: String { self == .npy ? ".npy" : "FITS (.fits, .fit, .fts, optionally .gz)" }
    }

    public let root: String
    public let format: Format
    public let classes: [String]
    /// Paths relative to `root`, with their labels. A name that is not UTF-8 appears with its
    /// invalid bytes written `\xNN` (see `RawName`); `rawPaths` has the bytes to open.
    public let entries: [(path: String, label: Int?)]
    /// `entries`' relative paths as stored (bytes), for opening.
    public let rawPaths: [[UInt8]]

    public var count: Int { entries.count }
    public var summary: String {
        let kind = format == .npy ? ".npy" : "FITS"
        return classes.isEmpty ? "\(count) \(kind) files in \(root)" : "\(classes.count) class folders with \(count) \(kind) files under \(root)"
    }

    public init(root: String) throws {
        self.root = root
        let rootBytes = Array(root.utf8)
        func under(_ parts: [UInt8]...) -> [UInt8] { parts.reduce(rootBytes) { $0 + [0x2F] + $1 } }
        let top = try RawDirectory.list(rootBytes, display: root)
        let filesHere = top.filter { Self.isDataFile($0.bytes) && !RawDirectory.isDirectory(under($0.bytes)) }
        let folders = top.filter { $0.bytes.first != 0x2E && RawDirectory.isDirectory(under($0.bytes)) }
        // Every data file, here and one level down, with its relative path: the format is theirs.
        var found = filesHere.map { (path: $0.display, raw: $0.bytes, folder: -1) }
        for (k, folder) in folders.enumerated() {
            let files = try RawDirectory.list(under(folder.bytes), display: root + "/" + folder.display)
            found += files.filter { Self.isDataFile($0.bytes) }
                .map { ("\(folder.display)/\($0.display)", folder.bytes + [0x2F] + $0.bytes, k) }
        }
        let formats = Format.allCases.filter { fmt in found.contains { fmt.matches($0.raw) } }
        if formats.count > 1 {
            let examples = formats.map { fmt in "\(fmt.files) files (e.g. \(found.first { fmt.matches($0.raw) }!.path))" }
            throw LensDataError(path: root, "mixes \(examples.joined(separator: " and ")); expected one format")
        }
        format = formats.first ?? .npy
        var classes: [String] = []
        var entries: [(String, Int?)] = []
        var raw: [[UInt8]] = []
        for (k, folder) in folders.enumerated() {
            let files = found.filter { $0.folder == k }
            guard !files.isEmpty else { continue }
            let label = classes.count
            classes.append(folder.display)
            entries += files.map { ($0.path, label) }
            raw += files.map(\.raw)
        }
        if !classes.isEmpty && !filesHere.isEmpty {
            throw LensDataError(path: root, "holds both \(format.files) files and class folders (\(classes.joined(separator: ", "))); expected one or the other")
        }
        if classes.isEmpty {
            entries = filesHere.map { ($0.display, nil) }
            raw = filesHere.map(\.bytes)
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
            throw LensDataError(path: root, "no .npy or FITS files found (expected root/<class>/*.npy or root/*.npy, or the same with .fits)")
        }
        self.classes = classes
        self.entries = entries.map { (path: $0.0, label: $0.1) }
        self.rawPaths = raw
    }

    /// True when a file name (bytes) is a data file of any format.
    static func isDataFile(_ name: [UInt8]) -> Bool { Format.allCases.contains { $0.matches(name) } }

    /// The split folders of `root` when it is a folder of splits (`root/train/<class>/*.npy` or
    /// `*.fits`, `root/test/...`): its subfolders (not hidden) that hold class folders with data
    /// files, sorted. Empty when `root` holds data files itself or none of its folders holds class folders.
    public static func splitFolders(under root: String) -> [String] {
        let rootBytes = Array(root.utf8)
        func under(_ parts: [UInt8]...) -> [UInt8] { parts.reduce(rootBytes) { $0 + [0x2F] + $1 } }
        guard let top = try? RawDirectory.list(rootBytes, display: root) else { return [] }
        let folders = top.filter { $0.bytes.first != 0x2E && RawDirectory.isDirectory(under($0.bytes)) }
        if top.contains(where: { isDataFile($0.bytes) && !RawDirectory.isDirectory(under($0.bytes)) }) { return [] }
        return folders.filter { split in
            let inner = (try? RawDirectory.list(under(split.bytes), display: "")) ?? []
            if inner.contains(where: { isDataFile($0.bytes) && !RawDirectory.isDirectory(under(split.bytes, $0.bytes)) }) { return false }
            return inner.contains { c in
                c.bytes.first != 0x2E && RawDirectory.isDirectory(under(split.bytes, c.bytes))
                    && ((try? RawDirectory.list(under(split.bytes, c.bytes), display: "")) ?? []).contains { isDataFile($0.bytes) }
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
        let rawPath = Array(root.utf8) + [0x2F] + rawPaths[index], display = root + "/" + entry.path
        let read = try format == .npy ? NPYFile.readImage(rawPath: rawPath, display: display)
                                      : FITSFile.readImage(rawPath: rawPath, display: display)
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

/// The name `FolderSource` had when it read only `.npy` files; it reads FITS folders too.
public typealias NPYFolderSource = FolderSource
