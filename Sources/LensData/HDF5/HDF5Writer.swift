import CHDF5

/// Writing the HDF5 layout other simulators ship: `images (N, C, H, W)` float32 chunked and gzipped,
/// plus `labels`, `mass` and `names` beside it.
public enum HDF5Writer {
    /// Creates an empty chunked (one image per chunk), gzipped float32 dataset, to be filled in blocks
    /// along axis 0.
    public static func createFloat32(_ file: HDF5File, _ name: String, shape: [Int], gzip: Int = 4) throws -> HDF5WritableDataset {
        let id = try createDataset(file, name, shape: shape, type: chdf5_native_float(), chunkFirstAxis: true, gzip: gzip)
        return HDF5WritableDataset(file: file, name: name, id: id, shape: shape)
    }

    public static func writeInt64(_ file: HDF5File, _ name: String, values: [Int64]) throws {
        try write(file, name, shape: [values.count], memType: chdf5_native_int64(), chunkFirstAxis: false, gzip: 0) { id, mem in
            values.withUnsafeBytes { H5Dwrite(id, mem, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
        }
    }

    public static func writeFloat64(_ file: HDF5File, _ name: String, values: [Double]) throws {
        try write(file, name, shape: [values.count], memType: chdf5_native_double(), chunkFirstAxis: false, gzip: 0) { id, mem in
            values.withUnsafeBytes { H5Dwrite(id, mem, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
        }
    }

    /// Fixed-length byte strings (numpy `S<n>`), as h5py writes `np.array(names, dtype='S')`.
    public static func writeStrings(_ file: HDF5File, _ name: String, values: [String]) throws {
        let width = max(1, values.map { $0.utf8.count }.max() ?? 1)
        var raw = [UInt8](repeating: 0, count: values.count * width)
        for (i, s) in values.enumerated() { for (k, b) in s.utf8.enumerated() { raw[i * width + k] = b } }
        let type = H5Tcopy(chdf5_c_s1())
        defer { H5Tclose(type) }
        H5Tset_size(type, width)
        H5Tset_strpad(type, H5T_STR_NULLPAD)
        try write(file, name, shape: [values.count], memType: type, fileType: type, chunkFirstAxis: false, gzip: 0) { id, mem in
            raw.withUnsafeBytes { H5Dwrite(id, mem, chdf5_s_all(), chdf5_s_all(), chdf5_p_default(), $0.baseAddress) }
        }
    }

    private static func write(_ file: HDF5File, _ name: String, shape: [Int], memType: hid_t, fileType: hid_t? = nil,
                              chunkFirstAxis: Bool, gzip: Int, body: (hid_t, hid_t) -> herr_t) throws {
        let id = try createDataset(file, name, shape: shape, type: fileType ?? memType, chunkFirstAxis: chunkFirstAxis, gzip: gzip)
        defer { H5Dclose(id) }
        guard body(id, memType) >= 0 else { throw HDF5Errors.error("\(file.path):\(name)", "write failed") }
    }

    /// Creates the groups on the way and the dataset; the caller closes the returned handle.
    private static func createDataset(_ file: HDF5File, _ name: String, shape: [Int], type: hid_t, chunkFirstAxis: Bool, gzip: Int) throws -> hid_t {
        HDF5Errors.begin()
        try ensureGroups(file, for: name)
        let dims = shape.map { hsize_t($0) }
        let space = H5Screate_simple(Int32(dims.count), dims, nil)
        defer { H5Sclose(space) }
        let props = H5Pcreate(chdf5_p_dataset_create())
        defer { H5Pclose(props) }
        if chunkFirstAxis, shape.first ?? 0 > 0 {
            var chunk = dims
            chunk[0] = 1
            H5Pset_chunk(props, Int32(chunk.count), chunk)
            if gzip > 0 { H5Pset_deflate(props, UInt32(gzip)) }
        }
        let id = H5Dcreate2(file.id, name, type, space, chdf5_p_default(), props, chdf5_p_default())
        guard id >= 0 else { throw HDF5Errors.error("\(file.path):\(name)", "cannot create dataset") }
        return id
    }

    static func ensureGroups(_ file: HDF5File, for name: String) throws {
        let parts = name.split(separator: "/").dropLast()
        var path = ""
        for p in parts {
            path += "/" + p
            if H5Lexists(file.id, path, chdf5_p_default()) > 0 { continue }
            let g = H5Gcreate2(file.id, path, chdf5_p_default(), chdf5_p_default(), chdf5_p_default())
            guard g >= 0 else { throw HDF5Errors.error("\(file.path):\(path)", "cannot create group") }
            H5Gclose(g)
        }
    }
}

/// A dataset being written in blocks of entries along axis 0.
public final class HDF5WritableDataset {
    let file: HDF5File
    let name: String
    let id: hid_t
    let shape: [Int]

    init(file: HDF5File, name: String, id: hid_t, shape: [Int]) {
        self.file = file
        self.name = name
        self.id = id
        self.shape = shape
    }

    deinit {
        HDF5Errors.begin()
        H5Dclose(id)
    }

    /// Writes entries `start..<start+count` from `values` (C order).
    public func write(start: Int, count: Int, values: [Float]) throws {
        HDF5Errors.begin()
        var startV = [hsize_t](repeating: 0, count: shape.count)
        var countV = shape.map { hsize_t($0) }
        startV[0] = hsize_t(start)
        countV[0] = hsize_t(count)
        precondition(values.count == countV.reduce(1, *).asInt, "value count does not match the block")
        let fileSpace = H5Dget_space(id)
        defer { H5Sclose(fileSpace) }
        H5Sselect_hyperslab(fileSpace, H5S_SELECT_SET, startV, nil, countV, nil)
        let memSpace = H5Screate_simple(Int32(countV.count), countV, nil)
        defer { H5Sclose(memSpace) }
        let status = values.withUnsafeBytes { H5Dwrite(id, chdf5_native_float(), memSpace, fileSpace, chdf5_p_default(), $0.baseAddress) }
        guard status >= 0 else { throw HDF5Errors.error("\(file.path):\(name)", "write of entries \(start)..<\(start + count) failed") }
    }
}

extension hsize_t {
    fileprivate var asInt: Int { Int(self) }
}
