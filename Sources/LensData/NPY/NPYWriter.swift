import Foundation

/// Writing `.npy` files the way `np.save` does, atomically (temporary name, then rename).
public enum NPYWriter {
    /// Writes a numeric array. `bytes` are the elements in C order, already in `dtype`'s byte order.
    public static func write(path: String, dtype: NPYDType, shape: [Int], bytes: [UInt8]) throws {
        precondition(dtype.kind != .object, "use writeObjectArray for object arrays")
        precondition(bytes.count == shape.reduce(1, *) * dtype.itemSize, "byte count does not match the shape")
        let header = NPYHeader(dtype: dtype, shape: shape).encoded()
        try AtomicFile.write(path: path, parts: [header, bytes])
    }

    /// Writes float32 values.
    public static func write(path: String, shape: [Int], float32 values: [Float]) throws {
        try write(path: path, dtype: .float32, shape: shape, bytes: littleEndianBytes(values.map { $0.bitPattern }))
    }

    /// Writes float64 values.
    public static func write(path: String, shape: [Int], float64 values: [Double]) throws {
        try write(path: path, dtype: .float64, shape: shape, bytes: littleEndianBytes(values.map { $0.bitPattern }))
    }

    /// Writes int64 values.
    public static func write(path: String, shape: [Int], int64 values: [Int64]) throws {
        try write(path: path, dtype: .int64, shape: shape, bytes: littleEndianBytes(values))
    }

    /// Writes a 1-D object array `[image, scalar, ...]` exactly as `np.save(path, np.array([img, m], dtype=object))`:
    /// a pickle (protocol 3) that `np.load(path, allow_pickle=True)` opens in numpy 1.x and 2.x.
    public static func writeObjectArray(path: String, image: RawArray, scalars: [Double]) throws {
        let header = NPYHeader(dtype: NPYDType(kind: .object, itemSize: 8), shape: [1 + scalars.count]).encoded()
        let pickle = PickleWriter.objectArray(image: image, scalars: scalars)
        try AtomicFile.write(path: path, parts: [header, pickle])
    }

    /// The little-endian bytes of integer values (`bitPattern`s for floats).
    public static func littleEndianBytes<T: FixedWidthInteger>(_ values: [T]) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: values.count * MemoryLayout<T>.size)
        out.withUnsafeMutableBytes { dst in
            for (i, v) in values.enumerated() { dst.storeBytes(of: v.littleEndian, toByteOffset: i * MemoryLayout<T>.size, as: T.self) }
        }
        return out
    }
}

/// Emits the pickle stream numpy writes for a 1-D object array (protocol 3, no memo).
enum PickleWriter {
    static func objectArray(image: RawArray, scalars: [Double]) -> [UInt8] {
        var p: [UInt8] = [0x80, 0x03]
        p += reconstructPrologue()
        // state: (1, (n,), dtype('O8'), False, [items])
        p += [0x28, 0x4B, 0x01]
        p += intTuple([1 + scalars.count])
        p += dtype(code: "O8", order: "|", flags: 63)
        p += [0x89, 0x5D, 0x28]  // NEWFALSE, EMPTY_LIST, MARK
        p += ndarray(image)
        for s in scalars {
            p.append(0x47)  // BINFLOAT, big-endian
            let bits = s.bitPattern
            for k in (0..<8).reversed() { p.append(UInt8(truncatingIfNeeded: bits >> (8 * UInt64(k)))) }
        }
        p += [0x65, 0x74, 0x62, 0x2E]  // APPENDS, TUPLE, BUILD, STOP
        return p
    }

    private static func global(_ module: String, _ name: String) -> [UInt8] {
        [0x63] + Array("\(module)\n\(name)\n".utf8)
    }

    /// `_reconstruct(ndarray, (0,), b'b')`
    private static func reconstructPrologue() -> [UInt8] {
        global("numpy.core.multiarray", "_reconstruct") + global("numpy", "ndarray")
            + [0x4B, 0x00, 0x85, 0x43, 0x01, UInt8(ascii: "b"), 0x87, 0x52]
    }

    private static func intTuple(_ values: [Int]) -> [UInt8] {
        var out: [UInt8] = [0x28]
        for v in values { out += [0x4A] + NPYWriter.littleEndianBytes([Int32(v)]) }
        out.append(0x74)
        return out
    }

    private static func string(_ s: String) -> [UInt8] {
        let u = Array(s.utf8)
        return [0x58] + NPYWriter.littleEndianBytes([UInt32(u.count)]) + u
    }

    /// `dtype(code, False, True)` with BUILD state `(3, order, None, None, None, -1, -1, flags)`.
    private static func dtype(code: String, order: String, flags: Int) -> [UInt8] {
        global("numpy", "dtype") + string(code) + [0x89, 0x88, 0x87, 0x52]
            + [0x28, 0x4B, 0x03] + string(order) + [0x4E, 0x4E, 0x4E]
            + [0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0x4A, 0xFF, 0xFF, 0xFF, 0xFF, 0x4B, UInt8(flags), 0x74, 0x62]
    }

    private static func ndarray(_ a: RawArray) -> [UInt8] {
        let code = String(a.dtype.descr.dropFirst())
        let order = a.dtype.itemSize == 1 ? "|" : (a.dtype.bigEndian ? ">" : "<")
        var p = reconstructPrologue()
        p += [0x28, 0x4B, 0x01]
        p += intTuple(a.shape)
        p += dtype(code: code, order: order, flags: 0)
        p += [a.fortranOrder ? 0x88 : 0x89]
        p += [0x42] + NPYWriter.littleEndianBytes([UInt32(a.bytes.count)]) + a.bytes
        p += [0x74, 0x62]
        return p
    }
}
