/// What the strict unpickler can build. Nothing here can run code: the only "callables" are the
/// numpy reconstructors in `PickleGlobal`, interpreted by lenspipe itself.
///
/// Tuples, lists and object arrays hold their items in classes (`PickleItems`, `PickleNDArray`), not
/// in nested enum payloads: the unpickler keeps every such object in its arena and empties them one
/// by one when it is done, so freeing a value nested 100,000 deep is a flat loop instead of a
/// recursion that overflows the stack (see `StrictUnpickler.PickleArena`).
enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case bytes([UInt8])
    case string(String)
    case tuple(PickleItems)
    case list(PickleItems)
    case global(PickleGlobal)
    case ndarray(PickleNDArray)
    case dtype(PickleDType)

    var kindName: String {
        switch self {
        case .none: return "None"
        case .bool: return "bool"
        case .int: return "int"
        case .float: return "float"
        case .bytes: return "bytes"
        case .string: return "str"
        case .tuple: return "tuple"
        case .list: return "list"
        case .global(let g): return "global \(g.qualifiedName)"
        case .ndarray: return "numpy.ndarray"
        case .dtype: return "numpy.dtype"
        }
    }

    /// How deeply containers nest below this value (0 for a leaf), as recorded when they were built.
    var depth: Int {
        switch self {
        case .tuple(let t), .list(let t): return t.depth
        case .ndarray(let a): return a.depth
        default: return 0
        }
    }

    /// The value as a number, for Python ints/floats/bools and numpy scalars.
    var number: Double? {
        switch self {
        case .int(let i): return Double(i)
        case .float(let d): return d
        case .bool(let b): return b ? 1 : 0
        case .ndarray(let a) where a.shape.isEmpty: return a.scalarValue
        default: return nil
        }
    }
}

/// The items of a Python tuple or list. Lists are mutable while unpickling (APPEND after MEMOIZE),
/// and both kinds are classes so the unpickler's arena can take them apart without recursion.
final class PickleItems {
    var items: [PickleValue]
    /// 1 + the deepest item's depth when the items were added. A list appended to after it was
    /// nested elsewhere can be deeper than its container records; that is harmless, because nothing
    /// recurses over values (teardown is flat, `ObjectArrayPayload` walks a bounded depth).
    var depth: Int

    init(_ items: [PickleValue] = []) {
        self.items = items
        depth = 1 + (items.lazy.map(\.depth).max() ?? 0)
    }
}

/// The globals the unpickler accepts, each mapped to lenspipe's own interpretation.
enum PickleGlobal: Equatable {
    case reconstruct      // numpy.(_)core.multiarray._reconstruct(ndarray, (0,), b'b')
    case ndarrayType      // numpy.ndarray
    case dtypeType        // numpy.dtype
    case scalar           // numpy.(_)core.multiarray.scalar(dtype, bytes)
    case frombuffer       // numpy.(_)core.numeric._frombuffer(buffer, dtype, shape, order)
    case codecsEncode     // _codecs.encode(str, 'latin1'): how protocol 2 stores bytes

    init?(module: String, name: String) {
        switch (module, name) {
        case ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"): self = .reconstruct
        case ("numpy", "ndarray"): self = .ndarrayType
        case ("numpy", "dtype"): self = .dtypeType
        case ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"): self = .scalar
        case ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"): self = .frombuffer
        case ("_codecs", "encode"): self = .codecsEncode
        default: return nil
        }
    }

    var qualifiedName: String {
        switch self {
        case .reconstruct: return "numpy.core.multiarray._reconstruct"
        case .ndarrayType: return "numpy.ndarray"
        case .dtypeType: return "numpy.dtype"
        case .scalar: return "numpy.core.multiarray.scalar"
        case .frombuffer: return "numpy.core.numeric._frombuffer"
        case .codecsEncode: return "_codecs.encode"
        }
    }
}

/// A numpy dtype under construction: `dtype('f8', False, True)`, then BUILD sets the byte order.
final class PickleDType {
    var code: String
    var byteOrder: Character = "|"

    init(code: String) { self.code = code }

    /// The element type, or nil for types lenspipe does not read (strings, structured, complex).
    var dtype: NPYDType? {
        let order: String = byteOrder == ">" ? ">" : "<"
        return NPYDType(descr: code.hasPrefix("O") ? "|O" : order + code)
    }
}

/// A numpy array under construction: `_reconstruct(...)` makes it empty, BUILD fills it.
final class PickleNDArray {
    var shape: [Int] = [0]
    var dtype: NPYDType = .float64
    var fortranOrder = false
    /// Raw element bytes, for non-object dtypes.
    var raw: [UInt8] = []
    /// Elements, for object dtypes.
    var objects: [PickleValue] = []
    /// Nesting depth of `objects` (0 for numeric arrays).
    var depth = 0

    var elementCount: Int { shape.reduce(1, *) }

    /// The value of a 0-d numeric array (a numpy scalar).
    var scalarValue: Double? {
        guard dtype.kind != .object, elementCount == 1 else { return nil }
        return PickleNDArray.exactScalar(raw: raw, dtype: dtype)
    }

    /// One stored element as a `Double`, at full precision (masses like 8.4e-23 eV need float64).
    static func exactScalar(raw: [UInt8], dtype: NPYDType) -> Double? {
        guard raw.count == dtype.itemSize else { return nil }
        var bits: UInt64 = 0
        for (i, b) in raw.enumerated() { bits |= UInt64(b) << (8 * UInt64(dtype.needsSwap ? raw.count - 1 - i : i)) }
        switch (dtype.kind, dtype.itemSize) {
        case (.float, 8): return Double(bitPattern: bits)
        case (.float, 4): return Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case (.float, 2): return Double(_NPYHalf.halfToFloat(UInt16(truncatingIfNeeded: bits)))
        case (.int, let n): let shift = UInt64(64 - 8 * n); return Double(Int64(bitPattern: bits << shift) >> Int64(shift))
        case (.uint, _): return Double(bits)
        case (.bool, _): return bits != 0 ? 1 : 0
        default: return nil
        }
    }
}
