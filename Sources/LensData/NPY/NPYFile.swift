/// Reading `.npy` files: single images (plain or pickled object arrays), whole arrays, and headers.
public enum NPYFile {
    /// What one per-image file held.
    public struct ImageRead: Sendable {
        public var image: LensImage
        public var stored: StoredArrayInfo
        /// The first numeric scalar of an object array (`[image, mass]` -> mass), if any.
        public var target: Double?
        /// Items of an object array that were not numbers where a target would be (a string or
        /// None mass): dropped, and counted so `preprocess` can say so.
        public var droppedTargets = 0
    }

    /// Reads a file that holds one image: a plain array of shape `(H,W)`, `(C,H,W)` or `(H,W,C)`, or a
    /// pickled object array such as DeepLense's `[image, axion_mass]`, parsed without executing anything.
    /// - Parameter path: the file; errors name it.
    public static func readImage(path: String) throws -> ImageRead {
        try readImage(file: FileBytes(path: path))
    }

    /// As `readImage(path:)`, for a path given as raw bytes (a name that is not UTF-8); errors name
    /// it as `display`.
    public static func readImage(rawPath: [UInt8], display: String) throws -> ImageRead {
        try readImage(file: FileBytes(rawPath: rawPath, display: display))
    }

    static func readImage(file: FileBytes) throws -> ImageRead {
        try readImage(buffer: file.buffer, path: file.path)
    }

    /// As `readImage(path:)`, for NPY bytes already in memory (a member of an `.npz` archive);
    /// errors name `path` (`data.npz:img_3`) and byte offsets within `buf`.
    public static func readImage(buffer buf: UnsafeRawBufferPointer, path: String) throws -> ImageRead {
        let header = try NPYHeader.parse(buf, path: path)
        let data = UnsafeRawBufferPointer(rebasing: buf[header.dataOffset...])
        if header.dtype.kind == .object {
            let payload = try StrictUnpickler.read(bytes: data, path: path, fileOffset: header.dataOffset) { ObjectArrayPayload($0) }
            guard let raw = payload.image else {
                throw LensDataError(path: path, "object array holds no numeric array of rank >= 2 to use as the image")
            }
            return ImageRead(image: try raw.image(path: path),
                             stored: StoredArrayInfo(dtype: raw.dtype.name, shape: raw.shape, fromObjectArray: true),
                             target: payload.scalars.first, droppedTargets: payload.droppedTargets)
        }
        try checkDataSize(header, available: data.count, path: path)
        let layout = try ArrayLayout.singleImage(shape: header.shape, fortranOrder: header.fortranOrder, path: path)
        var image = LensImage(channels: layout.channels, height: layout.height, width: layout.width)
        image.pixels.withUnsafeMutableBufferPointer { layout.decode(sample: 0, dtype: header.dtype, raw: data, into: $0) }
        return ImageRead(image: image, stored: StoredArrayInfo(dtype: header.dtype.name, shape: header.shape), target: nil)
    }

    /// Reads a 1-D (or `(N, 1)`) numeric array, e.g. labels or masses, as doubles.
    public static func readNumbers(path: String) throws -> [Double] {
        let file = try FileBytes(path: path)
        return try readNumbers(buffer: file.buffer, path: path)
    }

    /// As `readNumbers(path:)`, for NPY bytes already in memory (an `.npz` member).
    public static func readNumbers(buffer: UnsafeRawBufferPointer, path: String) throws -> [Double] {
        let header = try NPYHeader.parse(buffer, path: path)
        guard header.dtype.kind != .object else { throw LensDataError(path: path, "expected a numeric array, found dtype object") }
        guard header.shape.count == 1 || (header.shape.count == 2 && header.shape[1] == 1) else {
            throw LensDataError(path: path, "expected shape (N,) or (N, 1) for labels or targets, found \(header.shape)")
        }
        let data = UnsafeRawBufferPointer(rebasing: buffer[header.dataOffset...])
        try checkDataSize(header, available: data.count, path: path)
        let size = header.dtype.itemSize
        return (0..<header.elementCount).map { i in
            PickleNDArray.exactScalar(raw: Array(data[(i * size)..<((i + 1) * size)]), dtype: header.dtype) ?? .nan
        }
    }

    /// Throws unless `available` bytes hold all the data `header` promises.
    static func checkDataSize(_ header: NPYHeader, available: Int, path: String) throws {
        let need = header.dataByteCount
        guard available >= need else {
            throw LensDataError(path: path, offset: header.dataOffset + available,
                                "truncated: shape \(header.shape) of \(header.dtype.name) needs \(need) data bytes, the file has \(available)")
        }
    }
}
