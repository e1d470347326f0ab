/// A stack of images in one `.npy` file, `(N,H,W)`, `(N,1,H,W)` or `(N,H,W,C)`, read image by image.
///
/// Large files are memory-mapped (`FileBytes`), so reading image `i` touches only its pages and the
/// whole stack never has to fit in memory. Safe to read from several threads at once.
public final class NPYStack: Sendable {
    public let path: String
    public let header: NPYHeader
    public let layout: ArrayLayout
    /// The NPY bytes: the whole file, or a member inside an `.npz` archive.
    private let bytes: ByteSlice

    public convenience init(path: String) throws {
        try self.init(bytes: ByteSlice(FileBytes(path: path)), path: path)
    }

    /// A stack whose NPY bytes are already in memory (an `.npz` member); errors name `path`.
    public init(bytes: ByteSlice, path: String) throws {
        self.path = path
        self.bytes = bytes
        header = try NPYHeader.parse(bytes.buffer, path: path)
        guard header.dtype.kind != .object else {
            throw LensDataError(path: path, "a stack must be a numeric array; this file is a pickled object array")
        }
        try NPYFile.checkDataSize(header, available: bytes.count - header.dataOffset, path: path)
        layout = try ArrayLayout.stack(shape: header.shape, fortranOrder: header.fortranOrder, path: path)
    }

    public var count: Int { layout.samples }

    /// Image `index`, `[C, H, W]`.
    public func image(at index: Int) -> LensImage {
        precondition(index >= 0 && index < count, "stack index \(index) out of range 0..<\(count)")
        var image = LensImage(channels: layout.channels, height: layout.height, width: layout.width)
        let data = UnsafeRawBufferPointer(rebasing: bytes.buffer[header.dataOffset...])
        image.pixels.withUnsafeMutableBufferPointer { layout.decode(sample: index, dtype: header.dtype, raw: data, into: $0) }
        return image
    }
}
