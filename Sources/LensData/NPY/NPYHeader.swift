/// The header of an `.npy` file: format version, element type, memory order and shape.
///
/// Layout (numpy's `format.py`): the magic `\x93NUMPY`, a major and minor version byte, the header
/// length (`UInt16` little-endian for 1.0, `UInt32` for 2.0 and 3.0), then a Python dict literal
/// such as `{'descr': '<i8', 'fortran_order': False, 'shape': (150, 150), }` padded with spaces and a
/// newline so that the data starts on a 64-byte boundary. 3.0 only allows UTF-8 in the header.
public struct NPYHeader: Sendable, Equatable {
    public var majorVersion: Int
    public var dtype: NPYDType
    public var fortranOrder: Bool
    public var shape: [Int]
    /// Offset of the first data byte in the file.
    public var dataOffset: Int

    /// Number of elements (`1` for a 0-d array).
    public var elementCount: Int { shape.reduce(1, *) }

    public init(majorVersion: Int = 1, dtype: NPYDType, fortranOrder: Bool = false, shape: [Int], dataOffset: Int = 0) {
        self.majorVersion = majorVersion
        self.dtype = dtype
        self.fortranOrder = fortranOrder
        self.shape = shape
        self.dataOffset = dataOffset
    }

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]  // \x93NUMPY
    /// numpy refuses headers longer than this unless told otherwise; so do we.
    static let maxHeaderLength = 1 << 20

    /// Parses the header at the start of `bytes` (the whole file or at least its header).
    /// - Throws: `LensDataError` naming the byte offset and what was expected.
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> NPYHeader {
        guard bytes.count >= 10 else {
            throw LensDataError(path: path, offset: 0, "file is \(bytes.count) bytes, too short for an NPY header")
        }
        for i in 0..<6 where bytes[i] != magic[i] {
            throw LensDataError(path: path, offset: i, "not an NPY file: bad magic string (expected \\x93NUMPY)")
        }
        let major = Int(bytes[6])
        let headerLength: Int
        let headerStart: Int
        switch major {
        case 1:
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
            headerStart = 10
        case 2, 3:
            guard bytes.count >= 12 else {
                throw LensDataError(path: path, offset: 8, "file ends inside the NPY \(major).0 header length")
            }
            headerLength = Int(bytes[8]) | Int(bytes[9]) << 8 | Int(bytes[10]) << 16 | Int(bytes[11]) << 24
            headerStart = 12
        default:
            throw LensDataError(path: path, offset: 6, "unsupported NPY format version \(major).\(bytes[7]) (expected 1.0, 2.0 or 3.0)")
        }
        guard headerLength <= maxHeaderLength else {
            throw LensDataError(path: path, offset: 8, "header claims \(headerLength) bytes (limit \(maxHeaderLength))")
        }
        guard headerStart + headerLength <= bytes.count else {
            throw LensDataError(path: path, offset: headerStart,
                                "header claims \(headerLength) bytes but the file has \(bytes.count - headerStart) after the preamble")
        }
        let raw = UnsafeRawBufferPointer(rebasing: bytes[headerStart..<(headerStart + headerLength)])
        guard let text = String(validating: raw, as: UTF8.self) else {
            throw LensDataError(path: path, offset: headerStart, "header is not valid \(major == 3 ? "UTF-8" : "ASCII") text")
        }
        if major < 3, !text.utf8.allSatisfy({ $0 < 0x80 }) {
            throw LensDataError(path: path, offset: headerStart, "NPY \(major).0 header must be ASCII (non-ASCII needs version 3.0)")
        }
        let dict: [String: PyLiteral]
        do {
            var parser = PyLiteralParser(text)
            guard case .dict(let d) = try parser.parseTopLevel() else {
                throw PyLiteralParser.Failure(position: 0, message: "header is not a dict")
            }
            dict = d
        } catch let f as PyLiteralParser.Failure {
            throw LensDataError(path: path, offset: headerStart + f.position, "malformed header: \(f.message)")
        }
        return try NPYHeader(dict: dict, major: major, dataOffset: headerStart + headerLength, path: path, headerStart: headerStart)
    }

    private init(dict: [String: PyLiteral], major: Int, dataOffset: Int, path: String, headerStart: Int) throws {
        func fail(_ m: String) -> LensDataError { LensDataError(path: path, offset: headerStart, m) }
        guard dict.count == 3, let descrValue = dict["descr"], let fortranValue = dict["fortran_order"],
              let shapeValue = dict["shape"] else {
            throw fail("header must have exactly the keys 'descr', 'fortran_order', 'shape' (found \(dict.keys.sorted()))")
        }
        guard case .string(let descr) = descrValue else {
            throw fail("'descr' is not a type string (structured dtypes are not image data)")
        }
        guard let dtype = NPYDType(descr: descr) else {
            throw fail("unsupported dtype '\(descr)' (expected bool, int8-64, uint8-64, float16/32/64 or object)")
        }
        guard case .bool(let fortran) = fortranValue else { throw fail("'fortran_order' is not True or False") }
        guard case .tuple(let items) = shapeValue else { throw fail("'shape' is not a tuple") }
        var shape: [Int] = []
        var total = 1
        for item in items {
            guard case .int(let n) = item, n >= 0 else { throw fail("'shape' must hold non-negative integers") }
            let (product, overflow) = total.multipliedReportingOverflow(by: n)
            guard !overflow, product <= Int(Int32.max) * 64 else {
                throw fail("shape \(items.map { "\($0)" }) claims more elements than any image data set holds")
            }
            total = product
            shape.append(n)
        }
        self.init(majorVersion: major, dtype: dtype, fortranOrder: fortran, shape: shape, dataOffset: dataOffset)
    }

    /// Bytes of raw data the header promises (for non-object dtypes).
    public var dataByteCount: Int { elementCount * dtype.itemSize }

    /// Serialises a version 1.0 header (2.0 if it would not fit), padded so the data starts on a
    /// 64-byte boundary, exactly as `numpy.lib.format.write_array_header_1_0` does.
    public func encoded() -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let dict = "{'descr': '\(dtype.descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
        var useV2 = false
        var preamble = 10
        var total = preamble + dict.utf8.count + 1
        if (total + 63) / 64 * 64 - preamble > 0xFFFF { useV2 = true; preamble = 12; total = preamble + dict.utf8.count + 1 }
        let padded = (total + 63) / 64 * 64
        let headerLength = padded - preamble
        var out = NPYHeader.magic + [useV2 ? 2 : 1, 0]
        if useV2 {
            out += [UInt8(headerLength & 0xFF), UInt8(headerLength >> 8 & 0xFF), UInt8(headerLength >> 16 & 0xFF), UInt8(headerLength >> 24)]
        } else {
            out += [UInt8(headerLength & 0xFF), UInt8(headerLength >> 8)]
        }
        out += Array(dict.utf8)
        out += [UInt8](repeating: 0x20, count: padded - total)
        out.append(0x0A)
        return out
    }
}
