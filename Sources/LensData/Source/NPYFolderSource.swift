import Foundation

/// Per-image `.npy` files: either class folders (`root/<class>/*.npy`, classes sorted by name get
/// labels 0..K-1, files sorted by name) or one flat folder of `.npy` files (no labels).
///
/// Object-array files (`[image, mass]`) yield the mass as the sample's target.
public struct NPYFolderSource: SampleSource {
    public let root: String
    public let classes: [String]
    /// Paths relative to `root`, with their labels.
    public let entries: [(path: String, label: Int?)]

    public var count: Int { entries.count }
    public var summary: String {
        classes.isEmpty ? "\(count) .npy files in \(root)" : "\(classes.count) class folders with \(count) .npy files under \(root)"
    }

    public init(root: String) throws {
        self.root = root
        let fm = FileManager.default
        let top = try NPYFolderSource.list(root)
        let npyHere = top.filter { $0.hasSuffix(".npy") && !NPYFolderSource.isDirectory(root + "/" + $0) }
        let folders = top.filter { !$0.hasPrefix(".") && NPYFolderSource.isDirectory(root + "/" + $0) }
        var classes: [String] = []
        var entries: [(String, Int?)] = []
        for folder in folders {
            let files = try NPYFolderSource.list(root + "/" + folder).filter { $0.hasSuffix(".npy") }
            guard !files.isEmpty else { continue }
            let label = classes.count
            classes.append(folder)
            entries += files.map { ("\(folder)/\($0)", label) }
        }
        if !classes.isEmpty && !npyHere.isEmpty {
            throw LensDataError(path: root, "holds both .npy files and class folders (\(classes.joined(separator: ", "))); expected one or the other")
        }
        if classes.isEmpty {
            entries = npyHere.map { ($0, nil) }
        }
        guard !entries.isEmpty else {
            let nested = folders.filter { f in
                ((try? NPYFolderSource.list(root + "/" + f)) ?? []).contains { NPYFolderSource.isDirectory(root + "/" + f + "/" + $0) }
            }
            if !nested.isEmpty {
                let hint = nested.map { "\(root)/\($0)" }.joined(separator: ", ")
                throw LensDataError(path: root, "no .npy files in it or its class folders; it looks like a folder of splits: point at one of \(hint)")
            }
            _ = fm
            throw LensDataError(path: root, "no .npy files found (expected root/<class>/*.npy or root/*.npy)")
        }
        self.classes = classes
        self.entries = entries.map { (path: $0.0, label: $0.1) }
    }

    public func id(at index: Int) -> String { entries[index].path }

    public func sample(at index: Int) throws -> Sample {
        let entry = entries[index]
        let read = try NPYFile.readImage(path: root + "/" + entry.path)
        return Sample(id: entry.path, image: read.image, label: entry.label, target: read.target, stored: read.stored)
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
