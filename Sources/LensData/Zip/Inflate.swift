#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CZlib

/// Decompression with zlib: the raw deflate streams of zip members (`np.savez_compressed`) and gzip
/// files (`image.fits.gz`).
///
/// Both decode into memory that grows only as far as a stated bound: a zip member must decode to
/// exactly the size its directory declares, a gzip file to at most `limit` bytes. A stream that
/// wants more, stops early or is corrupt is an error naming the file; zlib's own message is quoted.
enum Inflate {
    /// zlib counts input and output in 32-bit `uInt`s; larger buffers are fed in pieces of this size.
    static let piece = 1 << 30

    /// Inflates a raw deflate stream (no zlib or gzip wrapper, as zip stores it) that must decode to
    /// exactly `size` bytes.
    static func rawDeflate(_ input: UnsafeRawBufferPointer, size: Int, path: String) throws -> FileBytes {
        guard size <= ratioLimit(compressed: input.count) else {
            throw LensDataError(path: path, "declares \(size) bytes from \(input.count) compressed, over \(maxRatio)x: a decompression bomb or an array of constants, refused (unzip it and read the .npy)")
        }
        return try run(input, windowBits: -15, initialCapacity: size, limit: size, exact: true, path: path)
    }

    /// The most a compressed stream may grow. Images carry noise in every pixel and compress a few
    /// times at most; a member that grows more than this is a decompression bomb (or an array of
    /// constants) and is refused before memory goes to it.
    static let maxRatio = 100

    /// The most bytes `compressed` bytes may inflate to: `maxRatio` times, and at least 64 MiB (so a
    /// labels or mask array, which compresses far better than images, is never refused for its ratio).
    static func ratioLimit(compressed: Int) -> Int {
        let (n, overflow) = compressed.multipliedReportingOverflow(by: maxRatio)
        return overflow ? Int.max : max(64 << 20, n)
    }

    /// Inflates gzip data, one member or several concatenated (as `cat a.gz b.gz` makes), into at
    /// most `limit` bytes. Bytes after the last member that do not start another are ignored, as
    /// `gzip -d` ignores trailing garbage.
    static func gzip(_ input: UnsafeRawBufferPointer, limit: Int, path: String) throws -> FileBytes {
        // The trailer's ISIZE (the size mod 2^32) is only a hint for the first allocation.
        var hint = 0
        if input.count >= 18 {
            hint = (0..<4).reduce(0) { $0 | Int(input[input.count - 4 + $1]) << (8 * $1) }
        }
        let limit = min(limit, ratioLimit(compressed: input.count))
        let initial = min(limit, max(hint, 4 * input.count, 1 << 16))
        return try run(input, windowBits: 15 + 16, initialCapacity: initial, limit: limit, exact: false, path: path)
    }

    /// True when `bytes` start with the gzip magic number `1f 8b`.
    static func isGzip(_ bytes: UnsafeRawBufferPointer) -> Bool { bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B }

    /// The CRC-32 zip and gzip store (zlib's `crc32_z`).
    static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
        guard let base = bytes.baseAddress else { return 0 }
        return UInt32(truncatingIfNeeded: crc32_z(0, base.assumingMemoryBound(to: Bytef.self), bytes.count))
    }

    /// The loop both use: feed input and output in pieces, grow the output (up to `limit`) when zlib
    /// has filled it, stop at the end of the (last) stream.
    private static func run(_ input: UnsafeRawBufferPointer, windowBits: Int32, initialCapacity: Int, limit: Int, exact: Bool,
                            path: String) throws -> FileBytes {
        var stream = z_stream()
        guard czlib_inflate_init2(&stream, windowBits) == Z_OK else {
            throw LensDataError(path: path, "zlib could not start inflating (out of memory?)")
        }
        defer { inflateEnd(&stream) }
        // One byte of room past the bound: zlib can then report the stream's end after writing
        // exactly `limit` bytes, and a stream that writes into that byte is known to be too long.
        let room = limit + 1
        var capacity = min(room, max(initialCapacity + 1, 1))
        guard var out = malloc(capacity) else { throw LensDataError(path: path, "cannot allocate \(capacity) bytes to inflate into") }
        var done = false
        defer { if !done { free(out) } }
        var inPos = 0, outPos = 0
        while true {
            if outPos == capacity {
                // zlib filled the buffer and wants more room.
                guard capacity < room else {
                    throw LensDataError(path: path, exact ? "deflate data decode to more than the declared \(limit) bytes"
                                                          : "decompresses to more than \(limit) bytes (the limit for compressed input: \(maxRatio)x its size, at least 64 MiB, at most 4 GiB)")
                }
                let grown = min(room, capacity * 2)
                guard let p = realloc(out, grown) else { throw LensDataError(path: path, "cannot allocate \(grown) bytes to inflate into") }
                out = p
                capacity = grown
            }
            let inChunk = min(input.count - inPos, piece), outChunk = min(capacity - outPos, piece)
            stream.next_in = UnsafeMutablePointer(mutating: input.baseAddress.map { ($0 + inPos).assumingMemoryBound(to: Bytef.self) })
            stream.avail_in = uInt(inChunk)
            stream.next_out = (out + outPos).assumingMemoryBound(to: Bytef.self)
            stream.avail_out = uInt(outChunk)
            let rc = inflate(&stream, Z_NO_FLUSH)
            inPos += inChunk - Int(stream.avail_in)
            outPos += outChunk - Int(stream.avail_out)
            if rc == Z_STREAM_END {
                // gzip: another member may follow.
                let rest = UnsafeRawBufferPointer(rebasing: input[inPos...])
                if !exact, isGzip(rest) {
                    guard inflateReset(&stream) == Z_OK else { throw LensDataError(path: path, "zlib could not restart for the next gzip member") }
                    continue
                }
                break
            }
            if rc == Z_BUF_ERROR && inPos == input.count && outPos < capacity {
                throw LensDataError(path: path, "compressed data end early (truncated) after \(outPos) decoded bytes")
            }
            guard rc == Z_OK || rc == Z_BUF_ERROR else {
                let detail = stream.msg.map { String(cString: $0) } ?? "error \(rc)"
                throw LensDataError(path: path, offset: inPos, "corrupt compressed data (zlib: \(detail))")
            }
        }
        if outPos > limit {
            throw LensDataError(path: path, exact ? "deflate data decode to more than the declared \(limit) bytes"
                                                  : "decompresses to more than \(limit) bytes (the limit for compressed input)")
        }
        if exact && outPos != limit {
            throw LensDataError(path: path, "deflate data decode to \(outPos) bytes; the archive declares \(limit)")
        }
        done = true
        if outPos == 0 {
            free(out)
            return FileBytes(path: path, adoptingMalloced: nil, count: 0)
        }
        return FileBytes(path: path, adoptingMalloced: out, count: outPos)
    }
}
