#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CFITSIO

/// A FITS file, read with cfitsio: its HDUs, and the pixels of an image HDU as Float32.
///
/// The bytes come from `FileBytes` (memory-mapped when large); a gzip-compressed file (`.fits.gz`,
/// recognised by its magic bytes) is inflated into memory first, up to `maxInflatedBytes`. Each
/// operation opens its own cfitsio handle on those bytes (`FITSHandle`), so one `FITSFile` may be
/// read from several threads at once.
///
/// Values are what cfitsio gives for `TDOUBLE` (`fits_read_img`): `BSCALE` and `BZERO` applied,
/// integer pixels equal to `BLANK` and float NaNs returned as NaN; then rounded once to Float32.
public final class FITSFile: Sendable {
    /// The file, for messages and ids.
    public let path: String
    /// The FITS bytes, zero-padded to a whole number of 2880-byte records.
    let bytes: FileBytes
    /// How many of those bytes the file really has (after gunzip): data must end within them.
    public let byteCount: Int
    public let gzipped: Bool

    /// The most bytes a gzip-compressed FITS file may inflate to (4 GiB); it is held in memory.
    public static let maxInflatedBytes = 4 << 30
    /// HDUs scanned when looking for an image or listing them (a file of more is not image data).
    public static let maxHDUs = 1000
    /// FITS files are a whole number of 2880-byte records.
    static let record = 2880

    public convenience init(path: String) throws {
        try self.init(rawPath: Array(path.utf8), display: path)
    }

    /// Opens the file whose path is the bytes `rawPath`; errors name it as `display`.
    public init(rawPath: [UInt8], display path: String) throws {
        self.path = path
        var file = try FileBytes(rawPath: rawPath, display: path)
        gzipped = Inflate.isGzip(file.buffer)
        if gzipped { file = try Inflate.gzip(file.buffer, limit: Self.maxInflatedBytes, path: path) }
        byteCount = file.count
        if file.count % Self.record != 0 {
            // Some writers leave the last record short. cfitsio reads whole records, so the bytes are
            // copied zero-padded; `byteCount` still says where the file ends.
            let padded = (file.count / Self.record + 1) * Self.record
            guard let p = calloc(1, padded) else { throw LensDataError(path: path, "cannot allocate \(padded) bytes") }
            if let base = file.buffer.baseAddress { memcpy(p, base, file.count) }
            file = FileBytes(path: path, adoptingMalloced: p, count: padded)
        }
        bytes = file
    }

    /// A fresh cfitsio handle on the bytes, moved to HDU `number` (0 = primary).
    func open(at number: Int) throws -> FITSHandle {
        let h = try FITSHandle(bytes: bytes, path: path)
        guard number > 0 else { return h }
        var status: Int32 = 0, type: Int32 = 0
        ffmahd(h.fptr, Int32(number + 1), &type, &status)  // fits_movabs_hdu, 1-based
        if status == END_OF_FILE || status == BAD_HDU_NUM {
            let list = (try? hdus().map(\.description).joined(separator: "; ")) ?? "?"
            throw LensDataError(path: path, "has no HDU \(number) (its HDUs: \(list))")
        }
        try h.check(status, "cannot read the header of HDU \(number)")
        return h
    }

    /// Every HDU, in order (at most `maxHDUs`).
    public func hdus() throws -> [FITSHDUInfo] {
        try CFITSIOAccess.run {
            let h = try FITSHandle(bytes: bytes, path: path)
            var out = [try info(h, number: 0)]
            while out.count < Self.maxHDUs {
                var status: Int32 = 0, type: Int32 = 0
                ffmrhd(h.fptr, 1, &type, &status)  // fits_movrel_hdu
                if status == END_OF_FILE { break }
                try h.check(status, "cannot read the header of HDU \(out.count)")
                out.append(try info(h, number: out.count))
            }
            return out
        }
    }

    /// The HDU to read images from: the one `selector` names, or the first with a 2-D or 3-D image.
    /// - Throws: when it does not exist, or is not an image of rank 2 or 3, naming the file, the HDU
    ///   and what it holds; when its data run past the end of the file; when its sizes exceed the limits.
    public func imageHDU(_ selector: FITSHDUSelector?) throws -> FITSHDUInfo {
        let hdu: FITSHDUInfo = try CFITSIOAccess.run {
            switch selector {
            case nil:
                // HDU by HDU, stopping at the first image: HDUs after it are not read at all.
                let h = try FITSHandle(bytes: bytes, path: path)
                var seen: [FITSHDUInfo] = []
                while seen.count < Self.maxHDUs {
                    if !seen.isEmpty {
                        var status: Int32 = 0, type: Int32 = 0
                        ffmrhd(h.fptr, 1, &type, &status)  // fits_movrel_hdu
                        if status == END_OF_FILE { break }
                        try h.check(status, "cannot read the header of HDU \(seen.count)")
                    }
                    let hdu = try info(h, number: seen.count)
                    if hdu.imageShape != nil { return hdu }
                    seen.append(hdu)
                }
                let short = byteCount % Self.record == 0 ? "" : "; its \(byteCount) bytes are not a whole number of 2880-byte records: truncated?"
                throw LensDataError(path: path, "has no 2-D image or 3-D cube HDU (its HDUs: \(seen.map(\.description).joined(separator: "; "))\(short))")
            case .number(let n):
                guard n >= 0, n < Self.maxHDUs else { throw LensDataError(path: path, "HDU number \(n) is out of range (0 is the primary HDU)") }
                return try info(open(at: n), number: n)
            case .name(let name, let version):
                let h = try FITSHandle(bytes: bytes, path: path)
                var status: Int32 = 0
                var cname = Array(name.utf8CString)
                ffmnhd(h.fptr, ANY_HDU, &cname, Int32(version ?? 0), &status)  // fits_movnam_hdu
                if status == BAD_HDU_NUM {
                    let list = (try? hdus().map(\.description).joined(separator: "; ")) ?? "?"
                    throw LensDataError(path: path, "has no HDU with EXTNAME \(name)\(version.map { " and EXTVER \($0)" } ?? "") (its HDUs: \(list))")
                }
                try h.check(status, "cannot find HDU \(selector!)")
                var number: Int32 = 0
                ffghdn(h.fptr, &number)  // fits_get_hdu_num, 1-based
                return try info(h, number: Int(number) - 1)
            }
        }
        guard hdu.imageShape != nil else {
            throw LensDataError(path: path, "\(hdu) is not a 2-D image or a 3-D cube (expected NAXIS = 2 or 3 with non-zero axes)")
        }
        try checkSize(hdu)
        return hdu
    }

    /// Reads `count` pixels of `hdu` from element `first` (0-based, in file order: x fastest, then
    /// y, then the plane) into `out`.
    public func read(_ hdu: FITSHDUInfo, first: Int, into out: UnsafeMutableBufferPointer<Float>) throws {
        try CFITSIOAccess.run {
            let h = try open(at: hdu.number)
            // Through a small Double buffer: cfitsio scales into Double exactly (TDOUBLE never
            // overflows, unlike TFLOAT, which clips large values and fails with NUM_OVERFLOW), then
            // each value is rounded once to Float32, as numpy's astype(np.float32) does.
            let piece = 1 << 16
            var buffer = [Double](repeating: 0, count: min(piece, max(out.count, 1)))
            // Integer pixels equal to BLANK come out as `nan`. Float pixels are passed as they are:
            // with a null value, cfitsio would also turn infinities into it and flush denormals
            // to 0. Tile-compressed floats mark their nulls with ZBLANK, so they keep the check.
            var nan = Double.nan
            let checkNulls = hdu.bitpix > 0 || hdu.compressed
            var done = 0
            while done < out.count {
                let n = min(piece, out.count - done)
                var status: Int32 = 0, anyNull: Int32 = 0
                buffer.withUnsafeMutableBytes { b in
                    withUnsafeMutablePointer(to: &nan) { null in
                        _ = ffgpv(h.fptr, TDOUBLE, Int64(first + done + 1), Int64(n), checkNulls ? null : nil, b.baseAddress, &anyNull, &status)  // fits_read_img
                    }
                }
                try h.check(status, "cannot read pixels \(first + done)..<\(first + done + n) of \(hdu)")
                for i in 0..<n { out[done + i] = Float(buffer[i]) }
                done += n
            }
        }
    }

    /// Reads a file that holds one image, for folder sources: the first 2-D image HDU, or a 3-D one
    /// with at most `ArrayLayout.maxChannels` planes (bands, as channels `[C, H, W]`).
    public static func readImage(rawPath: [UInt8], display: String) throws -> NPYFile.ImageRead {
        let file = try FITSFile(rawPath: rawPath, display: display)
        let hdu = try file.imageHDU(nil)
        let shape = hdu.imageShape!
        if shape.count == 3 && shape[0] > ArrayLayout.maxChannels {
            throw LensDataError(path: display, "\(hdu) is a cube of \(shape[0]) images; a file in a folder is one image (2-D, or up to \(ArrayLayout.maxChannels) planes as channels); open the cube on its own as FILE.fits")
        }
        let layout = try ArrayLayout.singleImage(shape: shape, fortranOrder: false, path: display)
        var image = LensImage(channels: layout.channels, height: layout.height, width: layout.width)
        try image.pixels.withUnsafeMutableBufferPointer { try file.read(hdu, first: 0, into: $0) }
        return NPYFile.ImageRead(image: image, stored: StoredArrayInfo(dtype: hdu.dtypeName, shape: shape), target: nil)
    }

    // MARK: - Headers

    /// The description of the HDU `h` is at.
    private func info(_ h: FITSHandle, number: Int) throws -> FITSHDUInfo {
        var status: Int32 = 0, type: Int32 = 0
        ffghdt(h.fptr, &type, &status)  // fits_get_hdu_type
        try h.check(status, "cannot read the type of HDU \(number)")
        var hdu = FITSHDUInfo(number: number, kind: type == IMAGE_HDU ? .image : type == ASCII_TBL ? .asciiTable : .binaryTable,
                              extname: nil, bitpix: 0, equivalentType: 0, axes: [], compressed: false, dataStart: 0)
        var value = [CChar](repeating: 0, count: Int(FLEN_VALUE) + 1), comment = [CChar](repeating: 0, count: Int(FLEN_COMMENT) + 1)
        ffgkys(h.fptr, "EXTNAME", &value, &comment, &status)  // fits_read_key_str
        if status == 0 {
            hdu.extname = String(decoding: value.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        status = 0
        guard hdu.kind == .image else { return hdu }
        var bitpix: Int32 = 0, naxis: Int32 = 0, equiv: Int32 = 0
        var naxes = [Int64](repeating: 0, count: 9)
        ffgiprll(h.fptr, 9, &bitpix, &naxis, &naxes, &status)  // fits_get_img_paramll
        try h.check(status, "cannot read the image size of HDU \(number)")
        guard naxis >= 0, naxis <= 9 else {
            throw LensDataError(path: path, "HDU \(number) has NAXIS = \(naxis); images have 2 or 3 axes")
        }
        ffgiet(h.fptr, &equiv, &status)  // fits_get_img_equivtype
        try h.check(status, "cannot read BSCALE/BZERO of HDU \(number)")
        var scale = 1.0, scaleStatus: Int32 = 0
        ffgkyd(h.fptr, "BSCALE", &scale, nil, &scaleStatus)  // absent (KEY_NO_EXIST) is BSCALE = 1
        if scaleStatus == 0 && (scale == 0 || !scale.isFinite) {
            throw LensDataError(path: path, "HDU \(number) has BSCALE = \(scale): every pixel would be BZERO (BSCALE must be a finite number other than 0)")
        }
        var headStart: Int64 = 0, dataStart: Int64 = 0, dataEnd: Int64 = 0
        ffghadll(h.fptr, &headStart, &dataStart, &dataEnd, &status)  // fits_get_hduaddrll
        try h.check(status, "cannot locate the data of HDU \(number)")
        if bitpix == 64 && equiv == LONGLONG_IMG {
            // cfitsio 4.2 reports BZERO = 2^63 (astropy's uint64) as signed; it is unsigned.
            var bzero = 0.0, bscale = 1.0, s: Int32 = 0
            ffgkyd(h.fptr, "BZERO", &bzero, nil, &s)  // fits_read_key_dbl
            s = 0
            ffgkyd(h.fptr, "BSCALE", &bscale, nil, &s)
            if bzero == 9_223_372_036_854_775_808.0 && bscale == 1 { equiv = ULONGLONG_IMG }
        }
        hdu.bitpix = Int(bitpix)
        hdu.equivalentType = Int(equiv)
        hdu.axes = naxes.prefix(Int(naxis)).map { Int($0) }
        hdu.compressed = fits_is_compressed_image(h.fptr, &status) != 0
        hdu.dataStart = Int(dataStart)
        return hdu
    }

    /// Refuses an image whose declared size cannot be real, before anything is allocated for it:
    /// products that overflow, more than `ArrayLayout.maxPixelsPerImage` pixels per image, data
    /// that would end past the end of the file (a truncated file, or a header claiming 10^12
    /// pixels). A tile-compressed image may not expand to more than 1,100 times the file's size.
    private func checkSize(_ hdu: FITSHDUInfo) throws {
        guard hdu.axes.allSatisfy({ $0 > 0 }) else { throw LensDataError(path: path, "\(hdu) has an empty axis") }
        do {
            _ = try ArrayLayout.stack(shape: hdu.imageShape!, fortranOrder: false, path: path)
        } catch let e as LensDataError {
            throw LensDataError(path: path, "\(hdu): \(e.message)")
        }
        var elements = 1
        for a in hdu.axes {
            let (p, o) = elements.multipliedReportingOverflow(by: a)
            guard !o else { throw LensDataError(path: path, "\(hdu): its element count overflows") }
            elements = p
        }
        let itemSize = abs(hdu.bitpix) / 8
        let (bytes, o1) = elements.multipliedReportingOverflow(by: hdu.compressed ? 4 : itemSize)
        if hdu.compressed {
            let (limit, o2) = byteCount.multipliedReportingOverflow(by: 1100)
            guard !o1, o2 || bytes <= limit + (64 << 20) else {
                throw LensDataError(path: path, "\(hdu) declares \(elements) pixels, more than a \(byteCount)-byte file can hold compressed")
            }
            return
        }
        let (end, o2) = hdu.dataStart.addingReportingOverflow(bytes)
        guard !o1, !o2, end <= byteCount else {
            throw LensDataError(path: path, offset: hdu.dataStart,
                                "truncated or corrupt: \(hdu) needs \(o1 ? "more than 2^63" : "\(bytes)") data bytes from byte \(hdu.dataStart), the file has \(byteCount) bytes")
        }
    }
}
