import CFITSIO
import Foundation

/// One open cfitsio `fitsfile` over FITS bytes that are already in memory.
///
/// lenspipe reads FITS through cfitsio's memory driver (`fits_open_memfile`, `ffomem`, in its
/// "keep" mode: cfitsio reads the caller's buffer and never writes, grows or frees it) rather than
/// letting cfitsio open the file by name:
/// - every open makes a fresh `fitsfile` of its own; cfitsio's disk driver shares one internal file
///   structure between opens of the same path, whose position several reading threads would race on;
/// - the file was opened by `FileBytes` (raw name bytes, `O_NONBLOCK`, regular files only, large
///   files memory-mapped), and gzip is inflated by lenspipe with a size limit, so sizes can be
///   checked against the real byte count before anything is allocated for them;
/// - names are not parsed: cfitsio's extended syntax (`file.fits[1][col X]`, `-` for stdin, URLs)
///   never applies to what a folder listing returns.
///
/// A handle is used by one thread and closed in `deinit` (`ffclos`), on every path.
final class FITSHandle {
    let fptr: UnsafeMutablePointer<fitsfile>
    /// The file, for messages.
    let path: String
    /// cfitsio keeps the addresses of the buffer pointer and size for the life of the handle.
    private let address: UnsafeMutablePointer<UnsafeMutableRawPointer?>
    private let size: UnsafeMutablePointer<Int>
    /// Holds the bytes alive while cfitsio reads them.
    private let bytes: FileBytes

    init(bytes: FileBytes, path: String) throws {
        guard let base = bytes.buffer.baseAddress, bytes.count > 0 else {
            throw LensDataError(path: path, "file is empty, expected a FITS file")
        }
        self.bytes = bytes
        self.path = path
        address = .allocate(capacity: 1)
        address.initialize(to: UnsafeMutableRawPointer(mutating: base))
        size = .allocate(capacity: 1)
        size.initialize(to: bytes.count)
        var status: Int32 = 0
        var f: UnsafeMutablePointer<fitsfile>?
        // The name only labels the handle; it must not contain cfitsio's bracket syntax.
        ffomem(&f, "lenspipe-memory", READONLY, address, size, 0, nil, &status)
        guard status == 0, let f else {
            if let f { var ignored: Int32 = 0; ffclos(f, &ignored) }
            address.deallocate()
            size.deallocate()
            let notFITS = status == UNKNOWN_REC || status == NO_SIMPLE
            throw FITSHandle.error(path, notFITS ? "not a FITS file (it does not start with a SIMPLE = T primary header)"
                                                 : "cannot read the primary header of this FITS file", status)
        }
        fptr = f
    }

    deinit {
        var status: Int32 = 0
        ffclos(fptr, &status)
        address.deallocate()
        size.deallocate()
    }

    /// cfitsio's text for a status code (`fits_get_errstatus`, `ffgerr`): `"tried to move past end of file"`.
    static func statusText(_ status: Int32) -> String {
        var buffer = [CChar](repeating: 0, count: Int(FLEN_STATUS) + 1)
        ffgerr(status, &buffer)
        return String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    /// A `LensDataError` for `path` ending with cfitsio's status and its text.
    static func error(_ path: String, _ message: String, _ status: Int32) -> LensDataError {
        LensDataError(path: path, "\(message) (cfitsio status \(status): \(statusText(status)))")
    }

    /// Throws `error(path, message(), status)` unless `status` is 0.
    func check(_ status: Int32, _ message: @autoclosure () -> String) throws {
        guard status == 0 else { throw FITSHandle.error(path, message(), status) }
    }
}

/// cfitsio built with `--enable-reentrant` (Debian's and Homebrew's are) may be called from several
/// threads at once, each on its own `fitsfile`. A build without it is not safe even so; then every
/// FITS operation runs under one lock (recursive: an operation may call another).
enum CFITSIOAccess {
    static let reentrant = fits_is_reentrant() != 0
    private static let lock = NSRecursiveLock()

    static func run<T>(_ body: () throws -> T) rethrows -> T {
        if reentrant { return try body() }
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
