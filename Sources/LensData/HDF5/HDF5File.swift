import CHDF5

/// An open HDF5 file. Closing happens in `deinit`, so every path (errors included) releases it.
///
/// libhdf5 on Debian is built thread-safe (one global lock), so handles may be used from several
/// threads; calls are serialised inside the library.
public final class HDF5File: @unchecked Sendable {
    // @unchecked Sendable: `id` is immutable and libhdf5 serialises access to it.
    public let path: String
    let id: hid_t

    /// Opens `path` read-only, or creates (truncating) it when `create` is true.
    public init(path: String, create: Bool = false) throws {
        HDF5Errors.begin()
        self.path = path
        if create {
            id = H5Fcreate(path, chdf5_acc_trunc(), chdf5_p_default(), chdf5_p_default())
            guard id >= 0 else { throw HDF5Errors.error(path, "cannot create HDF5 file") }
        } else {
            try FileBytes.requireRegularFile(path)
            // One open: the signature is checked (a second open) only to say why an open failed.
            id = H5Fopen(path, chdf5_acc_rdonly(), chdf5_p_default())
            guard id >= 0 else {
                let failure = HDF5Errors.error(path, "cannot open HDF5 file (corrupt or truncated?)")
                guard H5Fis_hdf5(path) > 0 else { throw HDF5Errors.error(path, "not an HDF5 file (no HDF5 signature, or the file is unreadable)") }
                throw failure
            }
        }
    }

    /// A failed open leaves `id` negative; closing it would only raise another libhdf5 error.
    deinit {
        guard id >= 0 else { return }
        HDF5Errors.begin()
        H5Fclose(id)
    }

    /// Opens the dataset at `name` (e.g. `/train/images`).
    public func dataset(_ name: String) throws -> HDF5Dataset {
        try HDF5Dataset(file: self, name: name)
    }

    /// Paths of every dataset in the file, sorted, with their shapes: for "which one did you mean?".
    public func datasetPaths() -> [(path: String, shape: [Int])] {
        HDF5Errors.begin()
        defer { chdf5_clear_errors() }
        final class Collector { var found: [(String, [Int])] = [] }
        let collector = Collector()
        let ctx = Unmanaged.passUnretained(collector).toOpaque()
        _ = H5Ovisit2(id, H5_INDEX_NAME, H5_ITER_NATIVE, { obj, name, info, ctx in
            guard let info, let name, let ctx, info.pointee.type == H5O_TYPE_DATASET else { return 0 }
            let c = Unmanaged<Collector>.fromOpaque(ctx).takeUnretainedValue()
            let path = "/" + String(cString: name)
            let d = H5Dopen2(obj, name, chdf5_p_default())
            var shape: [Int] = []
            if d >= 0 {
                let s = H5Dget_space(d)
                let rank = Int(H5Sget_simple_extent_ndims(s))
                if rank > 0 && rank <= 32 {
                    var dims = [hsize_t](repeating: 0, count: rank)
                    H5Sget_simple_extent_dims(s, &dims, nil)
                    shape = dims.map { Int(clamping: $0) }
                }
                H5Sclose(s)
                H5Dclose(d)
            }
            c.found.append((path, shape))
            return 0
        }, ctx, UInt32(H5O_INFO_BASIC))
        return collector.found.sorted { $0.0 < $1.0 }.map { (path: $0.0, shape: $0.1) }
    }
}
