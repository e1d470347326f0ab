import CHDF5

extension HDF5Dataset {
    /// How far a dataset's declared size may exceed the whole file: deflate cannot compress better
    /// than about 1032:1, so a dataset more than this many times larger than its file is mostly
    /// never-written chunks (fill values), which no lensing data set is.
    public static let maxExpansionOverFile = 1100

    /// Checks the dataset's declared size and its storage against the file, before anything is
    /// read: the products of its dimensions must not overflow, a contiguous dataset must lie inside
    /// the file, a compact one must hold exactly its declared bytes, and the declared size may
    /// exceed the file only by `maxExpansionOverFile` (plus 64 MiB).
    ///
    /// libhdf5 1.10.8 trusts these header fields and crashes in `H5Dread` when a byte flip breaks
    /// them (newer releases refuse the file); checking them here turns those crashes into errors.
    func checkStorage() throws {
        if kind == .number {
            // libhdf5 1.10 converts a 32-bit float declared 251 bytes wide with a memcpy past its buffer.
            let sizes = dtypeName.hasPrefix("float") ? [2, 4, 8] : [1, 2, 4, 8]
            guard sizes.contains(typeSize), typeBits.precision >= 1, typeBits.offset >= 0,
                  typeBits.precision + typeBits.offset <= 8 * typeSize else {
                throw LensDataError(path: location, "number type of \(typeSize) bytes with \(typeBits.precision) significant bits at bit \(typeBits.offset) is not a numpy dtype (corrupt header?)")
            }
        }
        var elements = 1
        for d in shape {
            let (p, overflow) = elements.multipliedReportingOverflow(by: d)
            guard !overflow else { throw LensDataError(path: location, "shape \(shape) overflows: its element count exceeds 2^63") }
            elements = p
        }
        let (declared, overflow) = elements.multipliedReportingOverflow(by: max(typeSize, 1))
        guard !overflow else { throw LensDataError(path: location, "shape \(shape) of \(typeSize)-byte elements overflows: its size exceeds 2^63 bytes") }
        var fileSize: hsize_t = 0
        guard H5Fget_filesize(file.id, &fileSize) >= 0 else { throw HDF5Errors.error(location, "cannot read the file size") }
        let fileBytes = Int(clamping: fileSize)
        let (bound, boundOverflow) = fileBytes.multipliedReportingOverflow(by: Self.maxExpansionOverFile)
        guard boundOverflow || declared <= bound + (64 << 20) else {
            throw LensDataError(path: location, "shape \(shape) declares \(declared) bytes, more than \(Self.maxExpansionOverFile) times the file's \(fileBytes) bytes: mostly unwritten (or a corrupt header)")
        }
        let plist = H5Dget_create_plist(id)
        guard plist >= 0 else { throw HDF5Errors.error(location, "cannot read the dataset's storage layout") }
        defer { H5Pclose(plist) }
        let layout = H5Pget_layout(plist)
        let stored = Int(clamping: H5Dget_storage_size(id))
        switch layout {
        case H5D_COMPACT:
            guard stored == declared else {
                throw LensDataError(path: location, "compact storage holds \(stored) bytes, the shape \(shape) needs \(declared) (corrupt header?)")
            }
        case H5D_CONTIGUOUS:
            let offset = H5Dget_offset(id)
            guard offset != UInt64.max else { return }  // never written: reads give fill values
            let (end, endOverflow) = Int(clamping: offset).addingReportingOverflow(declared)
            guard !endOverflow, end <= fileBytes else {
                throw LensDataError(path: location, offset: Int(clamping: offset),
                                    "contiguous data of \(declared) bytes runs past the end of the \(fileBytes)-byte file (truncated or corrupt)")
            }
        case H5D_CHUNKED:
            // A chunk of another rank than the dataset (one flipped bit in the layout message) makes
            // 1.10.8 look up chunks for minutes.
            var chunk = [hsize_t](repeating: 0, count: max(shape.count, 1))
            let chunkRank = Int(H5Pget_chunk(plist, Int32(chunk.count), &chunk))
            guard chunkRank == shape.count, chunk.allSatisfy({ $0 >= 1 && $0 <= UInt64(UInt32.max) }) else {
                throw LensDataError(path: location, "chunks of rank \(chunkRank) \(chunk.prefix(max(0, chunkRank))) do not fit a dataset of shape \(shape) (corrupt header?)")
            }
            guard stored <= fileBytes else {
                throw LensDataError(path: location, "chunks claim \(stored) bytes of storage in a \(fileBytes)-byte file (corrupt)")
            }
        default:
            throw HDF5Errors.error(location, "storage layout \(layout.rawValue) is not compact, contiguous or chunked (virtual datasets are not read; or a corrupt header)")
        }
    }
}
