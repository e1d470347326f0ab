import CZstd
import Foundation
import LensData

/// One-shot zstd compression as MDS shards need it: a single frame that records its content size
/// (`zstandard.decompress` in Python refuses frames without it).
public enum ZstdFrame {
    /// Compresses `input` at `level` (MDS default: 3) into one frame with the content size and a
    /// content checksum.
    /// - Parameter workers: 0 compresses on the calling thread; n >= 1 uses zstd's n worker threads.
    ///   zstd's output is the same for every n >= 1 (it differs from n = 0), so callers that want
    ///   thread-count-independent bytes pass n >= 1 always.
    public static func compress(_ input: [UInt8], level: Int32 = 3, workers: Int = 0) throws -> [UInt8] {
        try compress(parts: [input], level: level, workers: workers)
    }

    /// Compresses the concatenation of `parts` as one frame, without concatenating them first (the
    /// content size is pledged up front, so the frame still records it). The output buffer is not
    /// zero-filled: only the pages zstd writes are touched.
    public static func compress(parts: [[UInt8]], level: Int32 = 3, workers: Int = 0) throws -> [UInt8] {
        let total = parts.reduce(0) { $0 + $1.count }
        guard let cctx = ZSTD_createCCtx() else { throw LensDataError(path: "zstd", "cannot create a compression context") }
        defer { ZSTD_freeCCtx(cctx) }
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_compressionLevel, level)
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_contentSizeFlag, 1)
        // A content checksum (XXH64, standard zstd: Python's zstandard and MosaicML Streaming read it)
        // makes a flipped byte that still decodes an error, with or without --hashes.
        ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1)
        if workers > 0 {
            let r = ZSTD_CCtx_setParameter(cctx, ZSTD_c_nbWorkers, Int32(workers))
            guard ZSTD_isError(r) == 0 else { throw error("setting worker threads", r) }
        }
        let pledged = ZSTD_CCtx_setPledgedSrcSize(cctx, UInt64(total))
        guard ZSTD_isError(pledged) == 0 else { throw error("pledging the content size", pledged) }
        let bound = ZSTD_compressBound(total)
        var failure: Int?
        let out = try [UInt8](unsafeUninitializedCapacity: bound) { buffer, initialized in
            var output = ZSTD_outBuffer(dst: buffer.baseAddress, size: bound, pos: 0)
            for (k, part) in parts.enumerated() {
                let last = k == parts.count - 1
                part.withUnsafeBytes { src in
                    var input = ZSTD_inBuffer(src: src.baseAddress, size: part.count, pos: 0)
                    while true {
                        let left = ZSTD_compressStream2(cctx, &output, &input, last ? ZSTD_e_end : ZSTD_e_continue)
                        if ZSTD_isError(left) != 0 { failure = left; return }
                        if last ? left == 0 : input.pos == input.size { return }
                    }
                }
                if failure != nil { break }
            }
            if parts.isEmpty {
                var input = ZSTD_inBuffer(src: nil, size: 0, pos: 0)
                let left = ZSTD_compressStream2(cctx, &output, &input, ZSTD_e_end)
                if ZSTD_isError(left) != 0 { failure = left }
            }
            if let failure { throw error("compression", failure) }
            initialized = output.pos
        }
        return out
    }

    /// Decompresses one frame. The frame must record its content size, and at most `limit` bytes
    /// are accepted, so a hostile frame cannot demand a huge buffer.
    public static func decompress(_ frame: [UInt8], limit: Int = 1 << 31) throws -> [UInt8] {
        let size = frame.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, frame.count) }
        guard size != ZSTD_CONTENTSIZE_ERROR else { throw LensDataError(path: "zstd", "not a zstd frame") }
        guard size != ZSTD_CONTENTSIZE_UNKNOWN else { throw LensDataError(path: "zstd", "frame does not record its content size") }
        guard size <= UInt64(limit) else { throw LensDataError(path: "zstd", "frame claims \(size) bytes (limit \(limit))") }
        var n = 0
        let out = [UInt8](unsafeUninitializedCapacity: Int(size)) { dst, initialized in
            n = frame.withUnsafeBytes { src in ZSTD_decompress(dst.baseAddress, Int(size), src.baseAddress, frame.count) }
            initialized = ZSTD_isError(n) == 0 ? n : 0
        }
        guard ZSTD_isError(n) == 0 else { throw error("decompression", n) }
        guard n == Int(size) else { throw LensDataError(path: "zstd", "frame decoded to \(n) bytes, header said \(size)") }
        return out
    }

    /// The content size the zstd frame at the start of `path` declares (nil: unreadable, not a frame,
    /// or no size recorded). Reads only the frame header (at most 18 bytes).
    public static func contentSize(path: String) -> UInt64? {
        guard let handle = FileHandle(forReadingAtPath: path) else { return nil }
        defer { try? handle.close() }
        guard let head = try? handle.read(upToCount: 18), !head.isEmpty else { return nil }
        let bytes = [UInt8](head)
        let size = bytes.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, bytes.count) }
        return size == ZSTD_CONTENTSIZE_ERROR || size == ZSTD_CONTENTSIZE_UNKNOWN ? nil : size
    }

    private static func error(_ what: String, _ code: Int) -> LensDataError {
        LensDataError(path: "zstd", "\(what) failed: \(String(cString: ZSTD_getErrorName(code)))")
    }
}
