import LensData

/// A decoded column value.
public enum MDSValue: Sendable, Equatable {
    /// An n-d array: dtype, shape and raw little-endian bytes.
    case array(MDSDType, [Int], [UInt8])
    case int(Int64)
    case number(Double)
    case string(String)
    case bytes([UInt8])

    /// Encodes `self` in `encoding`, appending the value bytes to `out` and returning the size prefix
    /// to store for variable-size encodings.
    func encode(_ encoding: MDSEncoding, into out: inout [UInt8]) throws {
        switch (encoding, self) {
        case (.staticArray(let dt, let dims), .array(let vdt, let vdims, let raw)):
            guard dt == vdt, dims == vdims else { throw MDSError("array \(vdt.name) \(vdims) does not fit column \(encoding.text)") }
            out += raw
        case (.arrayOfType(let dt), .array(let vdt, let vdims, let raw)):
            guard dt == vdt else { throw MDSError("array \(vdt.name) does not fit column \(encoding.text)") }
            try Self.shapeHeader(vdims, into: &out)
            out += raw
        case (.array, .array(let vdt, let vdims, let raw)):
            out.append(vdt.code)
            try Self.shapeHeader(vdims, into: &out)
            out += raw
        case (.int, .int(let i)):
            withUnsafeBytes(of: i.littleEndian) { out += $0 }
        case (.scalar(let dt), .number(let d)):
            switch dt {
            case .float64: withUnsafeBytes(of: d.bitPattern.littleEndian) { out += $0 }
            case .float32: withUnsafeBytes(of: Float(d).bitPattern.littleEndian) { out += $0 }
            default: throw MDSError("lenspipe writes float32/float64 scalars only")
            }
        case (.str, .string(let s)), (.json, .string(let s)):
            out += Array(s.utf8)
        case (.bytes, .bytes(let b)):
            out += b
        default:
            throw MDSError("value does not fit column \(encoding.text)")
        }
    }

    static func shapeHeader(_ dims: [Int], into out: inout [UInt8]) throws {
        guard !dims.isEmpty, dims.count < 64, dims.allSatisfy({ $0 >= 1 }) else { throw MDSError("ndarray shape \(dims) cannot be stored") }
        let m = dims.max()!
        let code: UInt8 = m < 256 ? 0 : m < 65536 ? 1 : m < 1 << 32 ? 2 : 3
        out.append(UInt8(dims.count) << 2 | code)
        for d in dims {
            for k in 0..<(1 << Int(code)) { out.append(UInt8(truncatingIfNeeded: d >> (8 * k))) }
        }
    }

    /// Decodes one value of `encoding` from `raw` (exactly the value's bytes).
    static func decode(_ encoding: MDSEncoding, _ raw: UnsafeRawBufferPointer) throws -> MDSValue {
        func arrayBody(_ dt: MDSDType, _ start: Int) throws -> MDSValue {
            guard start < raw.count else { throw MDSError("ndarray value truncated") }
            let hdr = raw[start]
            let ndim = Int(hdr >> 2), width = 1 << Int(hdr & 3)
            var pos = start + 1
            guard ndim >= 1, pos + ndim * width <= raw.count else { throw MDSError("ndarray header truncated") }
            var dims: [Int] = []
            for _ in 0..<ndim {
                var d = 0
                for k in 0..<width { d |= Int(raw[pos + k]) << (8 * k) }
                dims.append(d)
                pos += width
            }
            let (count, overflow) = dims.reduce((1, false)) { acc, d in let r = acc.0.multipliedReportingOverflow(by: d); return (r.partialValue, acc.1 || r.overflow) }
            let (bytes, tooMany) = count.multipliedReportingOverflow(by: dt.size)
            guard !overflow, !tooMany, bytes == raw.count - pos else {
                throw MDSError("ndarray of shape \(dims) \(dt.name) needs \(overflow || tooMany ? "more than 2^63" : String(bytes)) bytes, record has \(raw.count - pos)")
            }
            return .array(dt, dims, Array(raw[pos...]))
        }
        switch encoding {
        case .staticArray(let dt, let dims):
            let bytes = dims.reduce(dt.size) { acc, d in acc.multipliedReportingOverflow(by: d).overflow ? -1 : (acc < 0 ? -1 : acc * d) }
            guard raw.count == bytes else { throw MDSError("column \(encoding.text) holds \(raw.count) bytes") }
            return .array(dt, dims, Array(raw))
        case .arrayOfType(let dt): return try arrayBody(dt, 0)
        case .array:
            guard let first = raw.first, let dt = MDSDType(code: first) else { throw MDSError("unknown ndarray dtype code") }
            return try arrayBody(dt, 1)
        case .int:
            guard raw.count == 8 else { throw MDSError("int column holds \(raw.count) bytes") }
            return .int(raw.loadUnaligned(as: Int64.self).littleEndian)
        case .scalar(let dt):
            guard raw.count == dt.size else { throw MDSError("\(dt.name) column holds \(raw.count) bytes") }
            return .number(ScalarBytes.decode(Array(raw), dt.npy))
        case .str, .json:
            guard let s = String(validating: raw, as: UTF8.self) else { throw MDSError("str column is not UTF-8") }
            return .string(s)
        case .bytes:
            return .bytes(Array(raw))
        }
    }
}

/// One little-endian numpy scalar as a Double (full precision for float64).
enum ScalarBytes {
    static func decode(_ raw: [UInt8], _ dtype: NPYDType) -> Double {
        var bits: UInt64 = 0
        for (i, b) in raw.enumerated() { bits |= UInt64(b) << (8 * UInt64(i)) }
        switch (dtype.kind, dtype.itemSize) {
        case (.float, 8): return Double(bitPattern: bits)
        case (.float, 4): return Double(Float(bitPattern: UInt32(truncatingIfNeeded: bits)))
        case (.float, _): return Double(Float(Float16(bitPattern: UInt16(truncatingIfNeeded: bits))))
        case (.int, let n): let shift = UInt64(64 - 8 * n); return Double(Int64(bitPattern: bits << shift) >> Int64(shift))
        default: return Double(bits)
        }
    }
}
