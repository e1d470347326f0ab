#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The bytes of a file, read whole (small files) or memory-mapped (large ones), or bytes decoded
/// from a file in memory (an inflated `.npz` member, a gunzipped FITS file).
///
/// Per-image NPY files are ~20-200 kB: one `read` into a buffer beats `mmap` and its page faults.
/// Stacks can be gigabytes: they are mapped, so only the pages of the images asked for are read.
public final class FileBytes: @unchecked Sendable {
    // @unchecked Sendable: the storage is immutable after init; readers only read it.
    public let path: String
    public let count: Int
    private let base: UnsafeRawPointer?
    private let release: Release

    /// How `deinit` gives the storage back.
    private enum Release { case none, unmap, deallocate, free }

    /// Files at least this large are memory-mapped.
    public static let mapThreshold = 16 << 20

    public convenience init(path: String) throws {
        try self.init(rawPath: Array(path.utf8), display: path)
    }

    /// Opens the file whose path is the bytes `rawPath` (names need not be UTF-8); errors name it as
    /// `display`.
    public init(rawPath: [UInt8], display path: String) throws {
        self.path = path
        // O_NONBLOCK: opening a FIFO (or a device) must not wait for a writer; it is refused below.
        // The flag changes nothing for regular files.
        let fd = open(RawDirectory.cPath(rawPath), O_RDONLY | O_CLOEXEC | O_NONBLOCK)
        guard fd >= 0 else { throw LensDataError(path: path, "cannot open: \(FileBytes.errnoText())") }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw LensDataError(path: path, "cannot stat: \(FileBytes.errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw LensDataError(path: path, "is \(FileBytes.kindName(st.st_mode)), expected a regular file")
        }
        let size = Int(st.st_size)
        count = size
        if size == 0 {
            base = nil
            release = .none
        } else if size >= FileBytes.mapThreshold {
            guard let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0), p != MAP_FAILED else {
                throw LensDataError(path: path, "cannot map \(size) bytes: \(FileBytes.errnoText())")
            }
            base = UnsafeRawPointer(p)
            release = .unmap
        } else {
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: size, alignment: 64)
            var done = 0
            while done < size {
                let n = pread(fd, buffer + done, size - done, off_t(done))
                if n < 0 && errno == EINTR { continue }
                guard n > 0 else {
                    buffer.deallocate()
                    throw LensDataError(path: path, offset: done, n == 0 ? "file shrank while reading" : "read failed: \(FileBytes.errnoText())")
                }
                done += n
            }
            base = UnsafeRawPointer(buffer)
            release = .deallocate
        }
    }

    /// Bytes decoded in memory, named `path` in errors. Takes ownership of `buffer`, which was
    /// allocated with `malloc`/`realloc` (zlib's output grows by `realloc`); nil only when `count` is 0.
    public init(path: String, adoptingMalloced buffer: UnsafeMutableRawPointer?, count: Int) {
        precondition(buffer != nil || count == 0, "a non-empty buffer needs storage")
        self.path = path
        self.count = count
        base = buffer.map { UnsafeRawPointer($0) }
        release = buffer == nil ? .none : .free
    }

    deinit {
        guard let base else { return }
        switch release {
        case .none: break
        case .unmap: munmap(UnsafeMutableRawPointer(mutating: base), count)
        case .deallocate: base.deallocate()
        case .free: free(UnsafeMutableRawPointer(mutating: base))
        }
    }

    /// The whole file.
    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

    public static func errnoText() -> String { String(cString: strerror(errno)) }

    /// Throws unless `path` names a regular file (after symlinks), without opening it: a FIFO named
    /// `x.h5` must not block a library that opens it itself (libhdf5).
    public static func requireRegularFile(_ path: String) throws {
        var st = stat()
        guard stat(path, &st) == 0 else { throw LensDataError(path: path, "cannot open: \(errnoText())") }
        guard (st.st_mode & S_IFMT) == S_IFREG else {
            throw LensDataError(path: path, "is \(kindName(st.st_mode)), expected a regular file")
        }
    }

    /// "a FIFO", "a folder", ... for messages.
    public static func kindName(_ mode: mode_t) -> String {
        switch mode & S_IFMT {
        case S_IFIFO: return "a FIFO (named pipe)"
        case S_IFDIR: return "a folder"
        case S_IFCHR: return "a character device"
        case S_IFBLK: return "a block device"
        case S_IFSOCK: return "a socket"
        default: return "not a regular file"
        }
    }
}

/// A run of bytes inside a `FileBytes` (a stored `.npz` member inside its archive), which it keeps
/// alive: the buffer is valid for as long as the slice exists.
public struct ByteSlice: Sendable {
    public let storage: FileBytes
    public let range: Range<Int>

    /// The whole of `storage`.
    public init(_ storage: FileBytes) { self.init(storage, range: 0..<storage.count) }

    /// - Precondition: `range` lies within `storage`.
    public init(_ storage: FileBytes, range: Range<Int>) {
        precondition(range.lowerBound >= 0 && range.upperBound <= storage.count, "slice \(range) outside \(storage.count) bytes")
        self.storage = storage
        self.range = range
    }

    public var count: Int { range.count }
    public var buffer: UnsafeRawBufferPointer { UnsafeRawBufferPointer(rebasing: storage.buffer[range]) }

    /// Calls `body` with the bytes, keeping their storage alive until it returns (a slice that is
    /// the only owner of inflated bytes could otherwise be released right after `buffer` is read).
    public func withBuffer<T>(_ body: (UnsafeRawBufferPointer) throws -> T) rethrows -> T {
        try withExtendedLifetime(storage) { try body(buffer) }
    }
}
