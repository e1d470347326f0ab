import CZstd
import LensData

/// One-shot zstd compression as MDS shards need it: a single frame that records its content size
/// (`zstandard.decompress` in Python refuses frames without it).
public enum ZstdFrame {
    /// Compresses `input` at `level` (MDS default: 3) into one frame with the content size set.
    public static func compress(_ input: [UInt8], level: Int32 = 3) throws -> [UInt8] {
        let bound = ZSTD_compressBound(input.count)
        var out = [UInt8](repeating: 0, count: bound)
        let written = out.withUnsafeMutableBytes { dst in
            input.withUnsafeBytes { src in ZSTD_compress(dst.baseAddress, bound, src.baseAddress, input.count, level) }
        }
        guard ZSTD_isError(written) == 0 else { throw error("compression", written) }
        return Array(out[0..<written])
    }

    /// Decompresses one frame. The frame must record its content size, and at most `limit` bytes
    /// are accepted, so a hostile frame cannot demand a huge buffer.
    public static func decompress(_ frame: [UInt8], limit: Int = 1 << 31) throws -> [UInt8] {
        let size = frame.withUnsafeBytes { ZSTD_getFrameContentSize($0.baseAddress, frame.count) }
        guard size != ZSTD_CONTENTSIZE_ERROR else { throw LensDataError(path: "zstd", "not a zstd frame") }
        guard size != ZSTD_CONTENTSIZE_UNKNOWN else { throw LensDataError(path: "zstd", "frame does not record its content size") }
        guard size <= UInt64(limit) else { throw LensDataError(path: "zstd", "frame claims \(size) bytes (limit \(limit))") }
        var out = [UInt8](repeating: 0, count: Int(size))
        let n = out.withUnsafeMutableBytes { dst in
            frame.withUnsafeBytes { src in ZSTD_decompress(dst.baseAddress, Int(size), src.baseAddress, frame.count) }
        }
        guard ZSTD_isError(n) == 0 else { throw error("decompression", n) }
        guard n == Int(size) else { throw LensDataError(path: "zstd", "frame decoded to \(n) bytes, header said \(size)") }
        return out
    }

    private static func error(_ what: String, _ code: Int) -> LensDataError {
        LensDataError(path: "zstd", "\(what) failed: \(String(cString: ZSTD_getErrorName(code)))")
    }
}
