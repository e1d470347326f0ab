import Foundation
import LensCore

/// A safetensors file, its header checked once: every read of a checkpoint goes through here.
///
/// Layout: an 8-byte little-endian header length `n`, `n` bytes of JSON (`{name: {dtype, shape,
/// data_offsets: [begin, end]}, "__metadata__": {string: string}}`), then the data; offsets count from
/// the data's start. `init` refuses, naming the tensor: a header length beyond the file, a header that is
/// not a JSON object, an unknown dtype, a negative or overflowing shape, offsets that are negative, out
/// of order, outside the data, or not the shape's size in bytes. After `init` no read can fall outside
/// the file and nothing is allocated from a number the file made up.
public struct SafetensorsFile: Sendable {
    public enum DType: String, Sendable {
        case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16", f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2"
        case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u64 = "U64", u32 = "U32", u16 = "U16", u8 = "U8", bool = "BOOL"

        var size: Int {
            switch self {
            case .f64, .i64, .u64: return 8
            case .f32, .i32, .u32: return 4
            case .f16, .bf16, .i16, .u16: return 2
            case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
            }
        }
    }

    public struct Entry: Sendable {
        public var dtype: DType
        public var shape: [Int]
        /// Byte range in the data section.
        public var range: Range<Int>
        public var count: Int { range.count / dtype.size }
    }

    public let path: String
    public let metadata: [String: String]
    public let entries: [String: Entry]
    private let file: FileBytes
    /// Where the data section starts in the file.
    private let dataStart: Int

    public init(path: String) throws {
        file = try FileBytes(path: path)
        self.path = path
        let buf = file.buffer
        guard buf.count >= 8 else { throw LensDataError(path: path, "\(buf.count) bytes: too short for a safetensors header") }
        let n64 = UInt64(littleEndian: buf.loadUnaligned(as: UInt64.self))
        guard n64 > 0, n64 <= UInt64(buf.count - 8) else {
            throw LensDataError(path: path, offset: 0, "header length \(n64) does not fit the file's \(buf.count) bytes")
        }
        let n = Int(n64)
        dataStart = 8 + n
        let dataCount = buf.count - dataStart
        guard let header = try? JSONSerialization.jsonObject(with: Data(buf[8..<dataStart])) as? [String: Any] else {
            throw LensDataError(path: path, offset: 8, "the header is not a JSON object (not a safetensors file)")
        }
        var metadata: [String: String] = [:]
        if let meta = header["__metadata__"] {
            guard let m = meta as? [String: String] else { throw LensDataError(path: path, offset: 8, "__metadata__ is not an object of strings") }
            metadata = m
        }
        var entries: [String: Entry] = [:]
        for (name, value) in header where name != "__metadata__" {
            func bad(_ why: String) -> LensDataError { LensDataError(path: path, offset: 8, "tensor \(name): \(why)") }
            guard let e = value as? [String: Any] else { throw bad("not an object") }
            guard let text = e["dtype"] as? String, let dtype = DType(rawValue: text) else { throw bad("dtype \(e["dtype"] ?? "missing") is not a safetensors dtype") }
            guard let shape = Self.integers(e["shape"]), shape.allSatisfy({ $0 >= 0 }) else { throw bad("shape is not a list of non-negative integers") }
            var elements = 1
            for d in shape {
                let (p, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow else { throw bad("shape \(shape) overflows") }
                elements = p
            }
            guard let o = Self.integers(e["data_offsets"]), o.count == 2 else { throw bad("data_offsets is not two integers") }
            guard o[0] >= 0, o[0] <= o[1], o[1] <= dataCount else {
                throw bad("data_offsets \(o) fall outside the data section's \(dataCount) bytes")
            }
            let (bytes, overflow) = elements.multipliedReportingOverflow(by: dtype.size)
            guard !overflow, o[1] - o[0] == bytes else { throw bad("data_offsets \(o) hold \(o[1] - o[0]) bytes, shape \(shape) of \(text) needs \(overflow ? "more than 2^63" : String(bytes))") }
            entries[name] = Entry(dtype: dtype, shape: shape, range: o[0]..<o[1])
        }
        self.metadata = metadata
        self.entries = entries
    }

    /// JSON numbers that are integers in Int's range (not 8.5, 1e300 or 2^64-1).
    static func integers(_ value: Any?) -> [Int]? { value as? [Int] }

    /// The entry `name`, which must have `dtype` and (if given) `shape`.
    public func entry(_ name: String, _ dtype: DType, shape: [Int]? = nil) throws -> Entry {
        guard let e = entries[name] else { throw LensDataError(path: path, "no tensor named \(name)") }
        guard e.dtype == dtype, shape == nil || e.shape == shape! else {
            throw LensDataError(path: path, "tensor \(name) is \(e.dtype.rawValue) \(e.shape), expected \(dtype.rawValue) \(shape.map { "\($0)" } ?? "")")
        }
        return e
    }

    /// Copies the F32 tensor `name` (of `shape`, if given) into `p`, which has room for its values.
    public func readF32(_ name: String, shape: [Int]? = nil, into p: UnsafeMutablePointer<Float>) throws {
        let e = try entry(name, .f32, shape: shape)
        let base = UnsafeRawBufferPointer(rebasing: file.buffer[(dataStart + e.range.lowerBound)...])
        for i in 0..<e.count { p[i] = Float(bitPattern: UInt32(littleEndian: base.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
    }

    /// The F32 tensor `name`'s values.
    public func f32(_ name: String, shape: [Int]? = nil) throws -> [Float] {
        let e = try entry(name, .f32, shape: shape)
        var out = [Float](repeating: 0, count: e.count)
        try out.withUnsafeMutableBufferPointer { try readF32(name, into: $0.baseAddress!) }
        return out
    }

    /// The F64 tensor `name`'s values.
    public func f64(_ name: String, shape: [Int]? = nil) throws -> [Double] {
        let e = try entry(name, .f64, shape: shape)
        let base = UnsafeRawBufferPointer(rebasing: file.buffer[(dataStart + e.range.lowerBound)...])
        return (0..<e.count).map { Double(bitPattern: UInt64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * $0, as: UInt64.self))) }
    }

    /// The I64 tensor `name`'s values.
    public func i64(_ name: String, shape: [Int]? = nil) throws -> [Int64] {
        let e = try entry(name, .i64, shape: shape)
        let base = UnsafeRawBufferPointer(rebasing: file.buffer[(dataStart + e.range.lowerBound)...])
        return (0..<e.count).map { Int64(littleEndian: base.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
    }
}
