/// A raw (uncompressed) MDS shard: `u32 n`, `u32 offsets[n+1]` (absolute), the config JSON, records.
public struct MDSShard: Sendable {
    /// The whole raw shard file.
    public let bytes: [UInt8]
    public let count: Int

    /// The header of a raw shard whose records (concatenated in `body`) end at `recordEnds`:
    /// `u32 n`, the absolute offsets, and the config JSON. The shard file is `header + body`.
    static func header(recordEnds: [Int], configJSON: String) -> [UInt8] {
        let cfg = Array(configJSON.utf8)
        let n = recordEnds.count
        var out: [UInt8] = []
        out.reserveCapacity(4 * (n + 2) + cfg.count)
        func u32(_ v: Int) { withUnsafeBytes(of: UInt32(v).littleEndian) { out += $0 } }
        u32(n)
        let first = 4 + 4 * (n + 1) + cfg.count
        u32(first)
        for end in recordEnds { u32(first + end) }
        out += cfg
        return out
    }

    /// Validates the header and offset table of a raw shard.
    public init(bytes: [UInt8], expectedSamples: Int? = nil) throws {
        guard bytes.count >= 8 else { throw MDSError("shard of \(bytes.count) bytes has no header") }
        let n = bytes.withUnsafeBytes { Int($0.loadUnaligned(as: UInt32.self).littleEndian) }
        guard 4 + 4 * (n + 1) <= bytes.count else { throw MDSError("shard claims \(n) samples but its offset table runs past the end") }
        if let expectedSamples, expectedSamples != n { throw MDSError("shard holds \(n) samples, index says \(expectedSamples)") }
        try bytes.withUnsafeBytes { raw in
            var previous = 4 + 4 * (n + 1)
            for i in 0...n {
                let o = Int(raw.loadUnaligned(fromByteOffset: 4 * (1 + i), as: UInt32.self).littleEndian)
                guard o >= previous, o <= bytes.count else { throw MDSError("offset \(i) = \(o) is out of order or past the end (\(bytes.count) bytes)") }
                previous = o
            }
            guard previous == bytes.count else { throw MDSError("last offset \(previous) is not the file size \(bytes.count)") }
        }
        self.bytes = bytes
        self.count = n
    }

    /// The bytes of record `i`.
    public func withRecord<R>(_ i: Int, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        precondition(i >= 0 && i < count)
        return try bytes.withUnsafeBytes { raw in
            let a = Int(raw.loadUnaligned(fromByteOffset: 4 * (1 + i), as: UInt32.self).littleEndian)
            let b = Int(raw.loadUnaligned(fromByteOffset: 4 * (2 + i), as: UInt32.self).littleEndian)
            return try body(UnsafeRawBufferPointer(rebasing: raw[a..<b]))
        }
    }
}
