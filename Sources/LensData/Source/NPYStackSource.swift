import Foundation

/// One `.npy` stack `(N,H,W)`, `(N,1,H,W)` or `(N,H,W,C)`, with optional labels and targets `.npy`
/// arrays of length N. Ids are `file.npy[i]`.
public struct NPYStackSource: SampleSource {
    public let stack: NPYStack
    public let labels: [Int]?
    public let targets: [Double]?
    public let classes: [String]
    private let name: String

    public var count: Int { stack.count }
    public var summary: String { "stack \(stack.path) of \(count) images \(stack.layout.shape)" }

    /// - Parameters:
    ///   - labelsPath: optional `.npy` of integer class indices, shape `(N,)` or `(N, 1)`.
    ///   - targetsPath: optional `.npy` of regression targets, shape `(N,)` or `(N, 1)`.
    ///   - classNames: names for label indices; defaults to the lines of `classes.txt` beside the
    ///     labels file when there is one (one name per line, in label order, as `lenspipe synth`
    ///     writes), else `"0"`, `"1"`, ...
    public init(path: String, labelsPath: String? = nil, targetsPath: String? = nil, classNames: [String]? = nil) throws {
        stack = try NPYStack(path: path)
        name = String(path.split(separator: "/").last ?? Substring(path))
        (labels, targets) = try StackCompanions.npyFiles(labels: labelsPath, targets: targetsPath, count: stack.count, images: path)
        if classNames == nil, let labelsPath, let file = try ClassNames.file(besideLabels: labelsPath) {
            classes = try ClassNames.resolve(file.names, labels: labels, path: file.path)
        } else {
            classes = try ClassNames.resolve(classNames, labels: labels, path: labelsPath ?? path)
        }
    }

    public func id(at index: Int) -> String { "\(name)[\(index)]" }

    /// The stack's image data (the header and the companions left out).
    public var storedBytes: Int? { stack.header.dataByteCount }

    public func label(at index: Int) -> Int? { StackCompanions.label(labels, index) }

    public func sample(at index: Int) throws -> Sample {
        Sample(id: id(at: index), image: stack.image(at: index), label: label(at: index), target: StackCompanions.target(targets, index),
               stored: StoredArrayInfo(dtype: stack.header.dtype.name, shape: Array(stack.header.shape.dropFirst(stack.layout.sampleAxis == nil ? 0 : 1))))
    }
}

/// Class names for integer labels.
enum ClassNames {
    /// The names in `classes.txt` in the labels file's folder (one per line, in label order; blank
    /// lines at the end ignored), or nil when there is no such file.
    /// - Throws: when the file cannot be read or has an empty or duplicated name.
    static func file(besideLabels labelsPath: String) throws -> (path: String, names: [String])? {
        let slash = labelsPath.lastIndex(of: "/")
        let path = (slash.map { String(labelsPath[...$0]) } ?? "") + "classes.txt"
        guard FileManager.default.fileExists(atPath: path) else { return nil }
        let bytes = try FileBytes(path: path)
        guard let text = String(validating: bytes.buffer, as: UTF8.self) else { throw LensDataError(path: path, "is not UTF-8 text") }
        var names = text.split(separator: "\n", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespacesAndNewlines) }
        while names.last?.isEmpty == true { names.removeLast() }
        if let blank = names.firstIndex(of: "") { throw LensDataError(path: path, "line \(blank + 1) is empty (expected one class name per line, in label order)") }
        if let dup = names.first(where: { n in names.filter { $0 == n }.count > 1 }) { throw LensDataError(path: path, "names class '\(dup)' twice") }
        return (path, names)
    }

    static func resolve(_ names: [String]?, labels: [Int]?, path: String) throws -> [String] {
        guard let labels else { return names ?? [] }
        let k = (labels.max() ?? -1) + 1
        if let names {
            guard names.count >= k else { throw LensDataError(path: path, "labels go up to \(k - 1) but only \(names.count) class names were given") }
            return names
        }
        return (0..<k).map(String.init)
    }
}
