/// An n-d numeric array still in its stored form: element type, shape, memory order and bytes.
public struct RawArray: Sendable {
    public var dtype: NPYDType
    public var shape: [Int]
    public var fortranOrder: Bool
    public var bytes: [UInt8]

    public init(dtype: NPYDType, shape: [Int], fortranOrder: Bool = false, bytes: [UInt8]) {
        self.dtype = dtype
        self.shape = shape
        self.fortranOrder = fortranOrder
        self.bytes = bytes
    }

    /// Converts the array, read as one image, to `[C, H, W]` floats.
    public func image(path: String) throws -> LensImage {
        let layout = try ArrayLayout.singleImage(shape: shape, fortranOrder: fortranOrder, path: path)
        var out = LensImage(channels: layout.channels, height: layout.height, width: layout.width)
        bytes.withUnsafeBytes { raw in
            out.pixels.withUnsafeMutableBufferPointer { layout.decode(sample: 0, dtype: dtype, raw: raw, into: $0) }
        }
        return out
    }
}

/// What a pickled object array held: the image payload and any numeric scalars (regression targets).
struct ObjectArrayPayload {
    var image: RawArray?
    var scalars: [Double] = []
    /// Items that stood where a target would (a string, None, bytes, ...) and were not numbers.
    var droppedTargets = 0

    /// Walks an unpickled value the way DeepLense loaders do (`a[0]` is the image, `a[1]` the mass):
    /// the first numeric array of rank >= 2 is the image; an object array of rank >= 2 whose items are
    /// all numbers, or a rank-1 object array of equal-length numeric rows, is converted to one; numeric
    /// scalars, in order, are targets. Rank-1 numeric arrays carry neither and are skipped.
    ///
    /// Each tuple, list and object array is visited once, at most 8 levels down, so a list that holds
    /// itself (or the same list a thousand times, nested) costs one visit, not exponentially many.
    init(_ value: PickleValue) {
        var seen = Set<ObjectIdentifier>()
        visit(value, depth: 0, seen: &seen)
    }

    private mutating func visit(_ value: PickleValue, depth: Int, seen: inout Set<ObjectIdentifier>) {
        guard depth < 8 else { return }
        switch value {
        case .list(let c), .tuple(let c):
            guard seen.insert(ObjectIdentifier(c)).inserted else { return }
            for item in c.items { visit(item, depth: depth + 1, seen: &seen) }
        case .ndarray(let a):
            if a.shape.isEmpty, let v = a.scalarValue { scalars.append(v); return }
            if a.dtype.kind != .object {
                if a.shape.count >= 2, image == nil {
                    image = RawArray(dtype: a.dtype, shape: a.shape, fortranOrder: a.fortranOrder, bytes: a.raw)
                }
                return
            }
            guard seen.insert(ObjectIdentifier(a)).inserted else { return }
            if image == nil, let converted = Self.numericImage(from: a) { image = converted; return }
            for item in a.objects { visit(item, depth: depth + 1, seen: &seen) }
        case .none, .string, .bytes:
            droppedTargets += 1
        default:
            if let v = value.number { scalars.append(v) }
        }
    }

    /// A float64 image out of an object array that is really numbers: rank >= 2 of scalars, or rank 1
    /// of equal-length numeric rows (ML4SCI/DeepLense#178).
    private static func numericImage(from a: PickleNDArray) -> RawArray? {
        var values: [Double] = []
        var shape = a.shape
        if a.shape.count >= 2 {
            values.reserveCapacity(a.objects.count)
            for item in a.objects {
                guard let v = item.number else { return nil }
                values.append(v)
            }
            if a.fortranOrder { return nil }
        } else if a.shape.count == 1, a.objects.count >= 2 {
            var width = -1
            for item in a.objects {
                guard case .ndarray(let row) = item, row.dtype.kind != .object, row.shape.count == 1 else { return nil }
                guard width < 0 || row.shape[0] == width, row.shape[0] >= 2 else { return nil }
                width = row.shape[0]
                row.raw.withUnsafeBytes { buf in
                    for i in 0..<width {
                        let bytes = Array(buf[(i * row.dtype.itemSize)..<((i + 1) * row.dtype.itemSize)])
                        values.append(PickleNDArray.exactScalar(raw: bytes, dtype: row.dtype) ?? .nan)
                    }
                }
            }
            shape = [a.objects.count, width]
        } else {
            return nil
        }
        var bytes = [UInt8](repeating: 0, count: values.count * 8)
        bytes.withUnsafeMutableBytes { dst in
            for (i, v) in values.enumerated() { dst.storeBytes(of: v.bitPattern.littleEndian, toByteOffset: i * 8, as: UInt64.self) }
        }
        return RawArray(dtype: .float64, shape: shape, bytes: bytes)
    }
}
