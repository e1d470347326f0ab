import Crypto

/// The hash algorithms lenspipe can record in `index.json` (names as Python's `hashlib` spells them).
public enum ShardHash: String, Sendable, CaseIterable {
    case md5, sha1, sha256, sha384, sha512

    /// Lower-case hex digest of `bytes`, as `hashlib.new(name, data).hexdigest()`.
    public func hexDigest(_ bytes: [UInt8]) -> String { hexDigest(parts: [bytes]) }

    /// The digest of the concatenation of `parts`, without concatenating them.
    public func hexDigest(parts: [[UInt8]]) -> String {
        func run<H: HashFunction>(_ hasher: inout H) -> [UInt8] {
            for p in parts { hasher.update(data: p) }
            return Array(hasher.finalize())
        }
        let digest: [UInt8]
        switch self {
        case .md5: var h = Insecure.MD5(); digest = run(&h)
        case .sha1: var h = Insecure.SHA1(); digest = run(&h)
        case .sha256: var h = SHA256(); digest = run(&h)
        case .sha384: var h = SHA384(); digest = run(&h)
        case .sha512: var h = SHA512(); digest = run(&h)
        }
        let hex: [Character] = Array("0123456789abcdef")
        var s = ""
        s.reserveCapacity(digest.count * 2)
        for b in digest { s.append(hex[Int(b >> 4)]); s.append(hex[Int(b & 15)]) }
        return s
    }
}
