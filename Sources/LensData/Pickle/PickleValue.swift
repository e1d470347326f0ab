/// What the strict unpickler can build. Nothing here can run code: the only "callables" are the
/// numpy reconstructors in `PickleGlobal`, interpreted by lenspipe itself.
indirect enum PickleValue {
    case none
    case bool(Bool)
    case int(Int)
    case float(Double)
    case bytes([UInt8])
    case string(String)
    case tuple([PickleValue])
    case list(PickleList)
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

/// A Python list. Lists are mutable while unpickling (APPEND after MEMOIZE), hence a class.
final class PickleList {
    var items: [PickleValue] = []
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
