import CFITSIO

/// What one HDU (header-data unit) of a FITS file holds, from its header.
///
/// FITS lists axes fastest first: `NAXIS1` is the image width (x), `NAXIS2` its height (y), `NAXIS3`
/// the number of planes of a cube. numpy (and astropy's `.data`) list them the other way round, so
/// `shape` is `(NAXIS3, NAXIS2, NAXIS1)`, the order lenspipe uses everywhere else.
public struct FITSHDUInfo: Sendable, Equatable, CustomStringConvertible {
    public enum Kind: Sendable, Equatable { case image, asciiTable, binaryTable }

    /// 0 for the primary HDU, 1 for the first extension, ... (as in `file.fits[1]` and astropy's `hdul[1]`).
    public var number: Int
    public var kind: Kind
    /// The `EXTNAME` keyword, if the header has one.
    public var extname: String?
    /// `BITPIX` as stored: 8, 16, 32, 64 (integers), -32, -64 (IEEE floats).
    public var bitpix: Int
    /// The type of the values after `BSCALE`/`BZERO` (cfitsio's `fits_get_img_equivtype`): 20 for
    /// BITPIX 16 with BZERO 32768 (unsigned 16-bit), -32 for scaled 16-bit data, ...
    public var equivalentType: Int
    /// `NAXIS1`, `NAXIS2`, ... as in the header (fastest first); empty for an HDU without data.
    public var axes: [Int]
    /// A tile-compressed image (stored as a binary table, read by cfitsio as an image).
    public var compressed: Bool
    /// Byte offset of the data in the (decompressed) file.
    public var dataStart: Int

    /// numpy order: `(NAXISn, ..., NAXIS2, NAXIS1)`.
    public var shape: [Int] { axes.reversed() }

    /// The shape as an image or a cube, `(H, W)` or `(N, H, W)`: axes beyond the third are dropped
    /// when they are 1 (the degenerate frequency and Stokes axes radio images carry). Nil for
    /// tables, empty HDUs and images of another rank.
    public var imageShape: [Int]? {
        guard kind == .image, axes.count >= 2 else { return nil }
        var s = shape
        while s.count > 3 && s.first == 1 { s.removeFirst() }
        return s.count <= 3 ? s : nil
    }

    /// numpy's name for `equivalentType`: what astropy's `.data.dtype` is for unblanked data
    /// (`uint16` for BITPIX 16 with BZERO 32768, `float32` for BITPIX -32 or scaled 16-bit data).
    public var dtypeName: String {
        switch Int32(equivalentType) {
        case BYTE_IMG: return "uint8"
        case SBYTE_IMG: return "int8"
        case SHORT_IMG: return "int16"
        case USHORT_IMG: return "uint16"
        case LONG_IMG: return "int32"
        case ULONG_IMG: return "uint32"
        case LONGLONG_IMG: return "int64"
        case ULONGLONG_IMG: return "uint64"
        case FLOAT_IMG: return "float32"
        case DOUBLE_IMG: return "float64"
        default: return "BITPIX=\(bitpix)"
        }
    }

    /// `"HDU 1 (SCI): image 64x64 (BITPIX 16)"`, for messages.
    public var description: String {
        let name = extname.map { " (\($0))" } ?? ""
        switch kind {
        case .asciiTable: return "HDU \(number)\(name): ASCII table"
        case .binaryTable: return "HDU \(number)\(name): binary table"
        case .image:
            if axes.isEmpty { return "HDU \(number)\(name): no data" }
            return "HDU \(number)\(name): \(compressed ? "compressed " : "")image \(axes.map(String.init).joined(separator: "x")) (BITPIX \(bitpix))"
        }
    }
}
