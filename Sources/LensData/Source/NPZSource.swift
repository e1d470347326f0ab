/// An `.npz` archive (`np.savez` / `np.savez_compressed`): a zip of `.npy` members, one per key.
///
/// Two layouts, chosen by the keys:
/// - **a stack with labels**: a key `x` or `images` holds the images, `(N,H,W)`, `(N,C,H,W)` or
///   `(N,H,W,C)` as for an `.npy` stack; `y` or `labels` holds class indices and `targets`
///   regression targets, each of length N (`--labels KEY` / `--targets KEY` name other keys). Ids
///   are `file.npz:x[i]`. Other keys are ignored.
/// - **one image per key** (no `x`/`images` key): every `.npy` member is one image, `(H,W)`,
///   `(C,H,W)` or `(H,W,C)` as for a per-image file (object arrays included), in the order the
///   archive lists them (the order `np.savez` was given them). Ids are `file.npz:key`. A key holding
///   a stack is an error that points at the first layout.
///
/// Stored members (`np.savez`) are read in place from the archive, memory-mapped when large.
/// Deflated members (`np.savez_compressed`) are inflated into memory: the image stack once at open,
/// per-key images when read.
public struct NPZSource: SampleSource {
    public let archive: ZipArchive
    /// The key of the image stack (`x` or `images`); nil for one image per key.
    public let stackKey: String?
    /// Stack layout: the images.
    public let stack: NPYStack?
    /// One image per key: the members, in archive order.
    public let imageMembers: [ZipArchive.Member]
    public let labels: [Int]?
    public let targets: [Double]?
    public let classes: [String]
    private let name: String

    public var count: Int { stack?.count ?? imageMembers.count }
    public var summary: String {
        if let stack, let stackKey { return "archive \(archive.path), stack \(stackKey) of \(count) images \(stack.layout.shape)" }
        return "archive \(archive.path) of \(count) images, one per key"
    }

    /// The keys that hold the image stack, and its labels and targets, when not named explicitly.
    public static let imageKeys = ["x", "images"], labelKeys = ["y", "labels"], targetKeys = ["targets"]

    /// - Parameters:
    ///   - labels, targets: keys in the archive (without `.npy`) for the stack layout; default `y`
    ///     or `labels`, and `targets`, when present.
    ///   - classNames: names for label indices; defaults to `"0"`, `"1"`, ...
    public init(path: String, labels labelsKey: String? = nil, targets targetsKey: String? = nil, classNames: [String]? = nil) throws {
        let archive = try ZipArchive(path: path)
        self.archive = archive
        name = String(path.split(separator: "/").last ?? Substring(path))
        let arrays = archive.members.filter { $0.name.hasSuffix(".npy") }
        let keys = arrays.map { String($0.name.dropLast(4)) }
        guard !arrays.isEmpty else {
            throw LensDataError(path: path, "holds no .npy members (found \(archive.members.prefix(5).map(\.name))); expected an np.savez archive")
        }
        /// The one key of `candidates` present, if any; two of them is ambiguous.
        func pick(_ candidates: [String], _ role: String) throws -> String? {
            let present = candidates.filter(keys.contains)
            guard present.count <= 1 else {
                throw LensDataError(path: path, "has both \(present.joined(separator: " and ")) keys; expected one key for the \(role)")
            }
            return present.first
        }
        func member(_ key: String) throws -> ZipArchive.Member {
            guard let m = archive.member(named: key + ".npy") else {
                throw LensDataError(path: path, "has no key \(key) (keys: \(keys.joined(separator: ", ")))")
            }
            return m
        }
        let imageKey = try pick(Self.imageKeys, "images")
        guard let imageKey else {
            let roles = [labelsKey, targetsKey].compactMap { $0 } + (try pick(Self.labelKeys, "labels").map { [$0] } ?? [])
                + (try pick(Self.targetKeys, "targets").map { [$0] } ?? [])
            if let key = roles.first {
                throw LensDataError(path: path, "has labels or targets (\(key)) but no images key; name the image stack x or images")
            }
            stackKey = nil
            stack = nil
            imageMembers = arrays
            self.labels = nil
            self.targets = nil
            classes = classNames ?? []
            return
        }
        stackKey = imageKey
        imageMembers = []
        let images = try NPYStack(bytes: archive.contents(of: member(imageKey)), path: "\(path):\(imageKey)")
        stack = images
        let n = images.count
        func numbers(_ key: String, _ role: String) throws -> [Double] {
            let where_ = "\(path):\(key)"
            let values = try archive.contents(of: member(key)).withBuffer { try NPYFile.readNumbers(buffer: $0, path: where_) }
            guard values.count == n else { throw LensDataError(path: where_, "has \(values.count) \(role) for \(n) images in \(imageKey)") }
            return values
        }
        let labelKey = try labelsKey ?? pick(Self.labelKeys, "labels")
        let targetKey = try targetsKey ?? pick(Self.targetKeys, "targets")
        let labelValues = try labelKey.map { try StackCompanions.classIndices(numbers($0, "labels"), path: "\(path):\($0)") }
        self.labels = labelValues
        self.targets = try targetKey.map { try numbers($0, "targets") }
        classes = try ClassNames.resolve(classNames, labels: labelValues, path: "\(path):\(labelKey ?? imageKey)")
    }

    public func id(at index: Int) -> String {
        if let stackKey { return "\(name):\(stackKey)[\(index)]" }
        return "\(name):\(imageMembers[index].name.dropLast(4))"
    }

    /// The stack's image data, or the per-key members' `.npy` bytes (uncompressed), for throughput figures.
    public var storedBytes: Int? { stack.map { $0.header.dataByteCount } ?? imageMembers.reduce(0) { $0 + $1.size } }

    public func label(at index: Int) -> Int? { StackCompanions.label(labels, index) }

    public func sample(at index: Int) throws -> Sample {
        if let stack {
            return Sample(id: id(at: index), image: stack.image(at: index), label: label(at: index), target: StackCompanions.target(targets, index),
                          stored: StoredArrayInfo(dtype: stack.header.dtype.name, shape: Array(stack.header.shape.dropFirst(stack.layout.sampleAxis == nil ? 0 : 1))))
        }
        let member = imageMembers[index]
        let where_ = "\(archive.path):\(member.name.dropLast(4))"
        let read = try archive.contents(of: member).withBuffer { buffer in
            let header = try NPYHeader.parse(buffer, path: where_)
            if header.dtype.kind != .object, header.shape.count >= 3,
               (try? ArrayLayout.singleImage(shape: header.shape, fortranOrder: header.fortranOrder, path: where_)) == nil {
                throw LensDataError(path: where_, "shape \(header.shape) is a stack, not one image: an archive holding a stack names it x (or images), with labels in y")
            }
            return try NPYFile.readImage(buffer: buffer, path: where_)
        }
        var sample = Sample(id: id(at: index), image: read.image, label: nil, target: read.target, stored: read.stored)
        sample.droppedTargets = read.droppedTargets
        return sample
    }
}
