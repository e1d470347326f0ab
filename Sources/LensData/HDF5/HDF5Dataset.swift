import CHDF5

/// One HDF5 dataset, read in hyperslabs along its first axis so memory stays bounded.
public final class HDF5Dataset: @unchecked Sendable {
    // @unchecked Sendable: handles are immutable; libhdf5 serialises calls.
    public let file: HDF5File
    public let name: String
    public let shape: [Int]
    /// numpy-style name of the stored element type (`float32`, `int64`, `string`, ...).
    public let dtypeName: String
    let id: hid_t
    private let typeClass: H5T_class_t
    let typeSize: Int
    /// Significant bits of a number type and where they start (`H5Tget_precision`, `H5Tget_offset`).
    let typeBits: (precision: Int, offset: Int)

    public enum Kind: Sendable { case number, fixedString, variableString, other }
    public let kind: Kind

    var location: String { "\(file.path):\(name)" }

    init(file: HDF5File, name: String) throws {
        HDF5Errors.begin()
        self.file = file
        self.name = name
        id = H5Dopen2(file.id, name, chdf5_p_default())
        guard id >= 0 else {
            chdf5_clear_errors()
            let known = file.datasetPaths().map { "\($0.path) \($0.shape)" }.joined(separator: ", ")
            throw LensDataError(path: file.path, "no dataset '\(name)' (datasets in this file: \(known.isEmpty ? "none" : known))")
        }
        let space = H5Dget_space(id)
        defer { H5Sclose(space) }
        let rank = Int(H5Sget_simple_extent_ndims(space))
        guard rank >= 0 && rank <= 32 else {
            H5Dclose(id)
            throw LensDataError(path: "\(file.path):\(name)", "dataspace has an invalid rank")
        }
        var dims = [hsize_t](repeating: 0, count: rank)
        var maxDims = [hsize_t](repeating: 0, count: rank)
        if rank > 0 { H5Sget_simple_extent_dims(space, &dims, &maxDims) }
        // libhdf5 1.10 does not check a dimension against its maximum; a flipped header byte makes a
        // 20-image dataset claim 2^40 images, which newer releases refuse.
        for (k, (d, m)) in zip(dims, maxDims).enumerated() where d > UInt64(Int.max) || (m != hsize_t.max && d > m) {
            H5Dclose(id)
            throw LensDataError(path: "\(file.path):\(name)",
                                "dimension \(k) is \(d), " + (d > UInt64(Int.max) ? "beyond any array size" : "more than its declared maximum \(m)") + " (corrupt header?)")
        }
        shape = dims.map { Int($0) }
        let type = H5Dget_type(id)
        defer { H5Tclose(type) }
        typeClass = H5Tget_class(type)
        typeSize = Int(H5Tget_size(type))
        typeBits = (Int(H5Tget_precision(type)), Int(H5Tget_offset(type)))
        let signed = H5Tget_sign(type) == H5T_SGN_2
        switch typeClass {
        case H5T_INTEGER:
            kind = .number
            dtypeName = (signed ? "int" : "uint") + "\(typeSize * 8)"
        case H5T_FLOAT:
            kind = .number
            dtypeName = "float\(typeSize * 8)"
        case H5T_STRING:
            kind = H5Tis_variable_str(type) > 0 ? .variableString : .fixedString
            dtypeName = "string"
        default:
            kind = .other
            dtypeName = "unsupported"
        }
        try checkStorage()
    }

    deinit {
        HDF5Errors.begin()
        H5Dclose(id)
    }

    /// Reads `count` entries starting at `start` along axis 0, converted by libhdf5 to `Float`
    /// (or `Double` via `readDoubles`). Returns `count * (elements per entry)` values.
    public func readFloats(start: Int, count: Int) throws -> [Float] {
        try read(start: start, count: count, memType: chdf5_native_float(), zero: Float(0))
    }

    /// As `readFloats`, at double precision (labels, masses).
    public func readDoubles(start: Int = 0, count: Int? = nil) throws -> [Double] {
        try read(start: start, count: count ?? (shape.first ?? 1), memType: chdf5_native_double(), zero: Double(0))
    }

    /// Elements in one entry along axis 0 (the product fits: `checkStorage` bounded the whole shape).
    public var elementsPerEntry: Int { shape.dropFirst().reduce(1, *) }

    /// The upper bound on one read, so a header claiming huge images cannot exhaust memory.
    public static let maxElementsPerRead = 1 << 28

    private func read<T>(start: Int, count: Int, memType: hid_t, zero: T) throws -> [T] {
        HDF5Errors.begin()
        guard kind == .number else { throw LensDataError(path: location, "holds \(dtypeName) data, expected numbers") }
        let n0 = shape.first ?? 1
        guard start >= 0, count >= 0, count <= n0, start <= n0 - count else {
            throw LensDataError(path: location, "entries \(start)..<\(start + count) out of range 0..<\(n0)")
        }
        let (total, overflow) = count.multipliedReportingOverflow(by: elementsPerEntry)
        guard !overflow, total <= HDF5Dataset.maxElementsPerRead else {
            throw LensDataError(path: location, "a read of \(total) elements exceeds the limit of \(HDF5Dataset.maxElementsPerRead)")
        }
        var out = [T](repeating: zero, count: total)
        guard total > 0 else { return out }
        let fileSpace = H5Dget_space(id)
        defer { H5Sclose(fileSpace) }
        if !shape.isEmpty {
            var startV = [hsize_t](repeating: 0, count: shape.count)
            var countV = shape.map { hsize_t($0) }
            startV[0] = hsize_t(start)
            countV[0] = hsize_t(count)
            guard H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, startV, nil, countV, nil) >= 0 else {
                throw HDF5Errors.error(location, "cannot select entries \(start)..<\(start + count)")
            }
            let memSpace = H5Screate_simple(Int32(countV.count), countV, nil)
            defer { H5Sclose(memSpace) }
            let status = out.withUnsafeMutableBytes { H5Dread(id, memType, memSpace, fileSpace, chdf5_p_default(), $0.baseAddress) }
            guard status >= 0 else { throw HDF5Errors.error(location, "read of entries \(start)..<\(start + count) failed (corrupt data?)") }
        } else {
            let status = out.withUnsafeMutableBytes { H5Dread(id, memType, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
            guard status >= 0 else { throw HDF5Errors.error(location, "read failed (corrupt data?)") }
        }
        return out
    }

    /// Reads a 1-D dataset of fixed-length strings (e.g. `names`), trailing NULs and spaces removed.
    public func readFixedStrings() throws -> [String] {
        HDF5Errors.begin()
        guard kind == .fixedString, shape.count == 1 else {
            throw LensDataError(path: location, "expected a 1-D dataset of fixed-length strings, found \(dtypeName) \(shape)")
        }
        let n = shape[0]
        let (bytes, overflow) = n.multipliedReportingOverflow(by: typeSize)
        guard !overflow, bytes <= HDF5Dataset.maxElementsPerRead else {
            throw LensDataError(path: location, "string table of \(n) x \(typeSize) bytes exceeds the limit of \(HDF5Dataset.maxElementsPerRead) bytes")
        }
        var raw = [UInt8](repeating: 0, count: n * typeSize)
        let type = H5Dget_type(id)
        defer { H5Tclose(type) }
        let status = raw.withUnsafeMutableBytes { H5Dread(id, type, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
        guard status >= 0 else { throw HDF5Errors.error(location, "string read failed") }
        return (0..<n).map { i in
            var slice = raw[(i * typeSize)..<((i + 1) * typeSize)]
            while let last = slice.last, last == 0 || last == 0x20 { slice = slice.dropLast() }
            return String(decoding: slice, as: UTF8.self)
        }
    }
}
