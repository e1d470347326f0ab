import LensData

/// One MDS column encoding (`streaming/base/format/mds/encodings.py`): how a value becomes bytes.
public enum MDSEncoding: Sendable, Equatable {
    /// `ndarray:<dtype>:<d0,d1,...>`: fixed dtype and shape, values only.
    case staticArray(MDSDType, [Int])
    /// `ndarray:<dtype>`: fixed dtype, `[hdr][shape][values]`.
    case arrayOfType(MDSDType)
    /// `ndarray`: `[dtype code][hdr][shape][values]`.
    case array
    /// `int`: int64.
    case int
    /// `int8` ... `float64`: one numpy scalar.
    case scalar(MDSDType)
    case str
    case bytes
    /// `json`: UTF-8 text (kept as a string here).
    case json

    public init(_ text: String) throws {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        switch parts[0] {
        case "ndarray":
            if parts.count == 1 { self = .array; return }
            guard let dt = MDSDType(name: parts[1]) else { throw MDSError("unsupported ndarray dtype '\(parts[1])'") }
            if parts.count == 2 { self = .arrayOfType(dt); return }
            let fields = parts.count == 3 ? parts[2].split(separator: ",", omittingEmptySubsequences: false) : []
            let dims = fields.compactMap { Int($0) }
            guard parts.count == 3, !dims.isEmpty, dims.count == fields.count, dims.allSatisfy({ $0 >= 1 }) else {
                throw MDSError("bad ndarray encoding '\(text)'")
            }
            // A record is at most 2^32 bytes (u32 offsets): larger column sizes are corrupt.
            var bytes = dt.size
            for d in dims {
                let (p, overflow) = bytes.multipliedReportingOverflow(by: d)
                guard !overflow, p < 1 << 32 else { throw MDSError("ndarray encoding '\(text)' declares more than 2^32 bytes per sample") }
                bytes = p
            }
            self = .staticArray(dt, dims)
        case "int": self = .int
        case "str": self = .str
        case "bytes": self = .bytes
        case "json": self = .json
        default:
            guard parts.count == 1, let dt = MDSDType(name: parts[0]) else {
                throw MDSError("column encoding '\(text)' is not supported (lenspipe reads ndarray, int, numeric scalars, str, bytes, json)")
            }
            self = .scalar(dt)
        }
    }

    public var text: String {
        switch self {
        case .staticArray(let dt, let dims): return "ndarray:\(dt.name):" + dims.map(String.init).joined(separator: ",")
        case .arrayOfType(let dt): return "ndarray:\(dt.name)"
        case .array: return "ndarray"
        case .int: return "int"
        case .scalar(let dt): return dt.name
        case .str: return "str"
        case .bytes: return "bytes"
        case .json: return "json"
        }
    }

    /// Bytes per value when fixed, nil when it varies (`column_sizes` in the index).
    public var fixedSize: Int? {
        switch self {
        case .staticArray(let dt, let dims): return dims.reduce(1, *) * dt.size
        case .int: return 8
        case .scalar(let dt): return dt.size
        default: return nil
        }
    }
}

/// The numpy dtypes MDS ndarray columns can hold, with their one-byte codes.
public enum MDSDType: String, Sendable, CaseIterable {
    case uint8, int8, uint16, int16, float16, uint32, int32, float32, uint64, int64, float64

    public init?(name: String) { self.init(rawValue: name) }
    public var name: String { rawValue }

    public var code: UInt8 {
        switch self {
        case .uint8: return 8
        case .int8: return 9
        case .uint16: return 16
        case .int16: return 17
        case .float16: return 18
        case .uint32: return 32
        case .int32: return 33
        case .float32: return 34
        case .uint64: return 64
        case .int64: return 65
        case .float64: return 66
        }
    }

    public init?(code: UInt8) {
        guard let dt = MDSDType.allCases.first(where: { $0.code == code }) else { return nil }
        self = dt
    }

    public var size: Int { Int(code) >= 64 ? 8 : Int(code) >= 32 ? 4 : Int(code) >= 16 ? 2 : 1 }

    /// The same type as an NPY dtype (little-endian), for decoding with LensData's converters.
    public var npy: NPYDType {
        switch self {
        case .uint8, .uint16, .uint32, .uint64: return NPYDType(kind: .uint, itemSize: size)
        case .int8, .int16, .int32, .int64: return NPYDType(kind: .int, itemSize: size)
        default: return NPYDType(kind: .float, itemSize: size)
        }
    }
}

/// A malformed shard, index or value.
public struct MDSError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}
