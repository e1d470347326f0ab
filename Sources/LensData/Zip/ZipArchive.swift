/// The members of a zip archive (what `np.savez` writes), read from its central directory.
///
/// A zip file ends with an "end of central directory" record that says where the central
/// directory is; the directory lists every member with its name, compression method, CRC-32, sizes
/// and the offset of its local header, which is followed by the member's (compressed) bytes:
///
///     [local header 1][data 1] ... [local header n][data n] [central directory] [end record]
///
/// Only what `.npz` files need is read: methods 0 (stored, `np.savez`) and 8 (deflate,
/// `np.savez_compressed`), no encryption, one disk. Zip64 records (sizes or offsets past 4 GiB,
/// more than 65,535 members) are understood. Every offset and size is checked against the file
/// before it is used, so a corrupt or hostile archive is an error naming the byte, not a crash.
public struct ZipArchive: Sendable {
    /// One member, as the central directory describes it.
    public struct Member: Sendable, Equatable {
        /// The stored name (`x.npy`); bytes that are not UTF-8 are written `\xNN`.
        public var name: String
        /// 0 stored, 8 deflate.
        public var method: Int
        public var crc32: UInt32
        public var compressedSize: Int
        /// Size after decompression.
        public var size: Int
        /// Where the member's (compressed) bytes start, after its local header.
        public var dataOffset: Int
    }

    public let path: String
    public let file: FileBytes
    /// In central directory order (the order the archive was written in).
    public let members: [Member]

    /// Deflate cannot compress better than about 1032:1; a member declaring more is corrupt.
    public static let maxDeflateRatio = 1032
    /// The most bytes one deflated member may decode to (4 GiB): it is held in memory whole. Larger
    /// arrays belong in `np.savez` (stored, memory-mapped) archives or `.npy` files.
    public static let maxInflatedMemberBytes = 4 << 30

    public init(path: String) throws {
        try self.init(file: FileBytes(path: path))
    }

    public init(file: FileBytes) throws {
        self.file = file
        path = file.path
        let bytes = file.buffer
        let end = try Self.endRecord(bytes, path: path)
        members = try Self.centralDirectory(bytes, end: end, path: path)
    }

    /// The member named `name` (`"x.npy"`), if present.
    public func member(named name: String) -> Member? { members.first { $0.name == name } }

    /// The decompressed bytes of `member`: a slice of the archive when stored, freshly inflated (and
    /// CRC-checked) when deflated.
    public func contents(of member: Member) throws -> ByteSlice {
        let where_ = "\(path):\(member.name)"
        let raw = member.dataOffset..<(member.dataOffset + member.compressedSize)
        switch member.method {
        case 0:
            // Stored: the bytes are used in place, after a CRC pass (numpy refuses a member whose
            // CRC does not match; a flipped byte must not become a silently different pixel). Members
            // above 256 MiB are not read whole at open (a memory-mapped stack of gigabytes would be):
            // their NPY header and sizes are checked by the readers.
            let crc = member.size <= 256 << 20 ? Inflate.crc32(UnsafeRawBufferPointer(rebasing: file.buffer[raw])) : member.crc32
            guard crc == member.crc32 else {
                throw LensDataError(path: where_, "CRC-32 mismatch (computed \(hex(crc)), the archive says \(hex(member.crc32))): the member is corrupt")
            }
            return ByteSlice(file, range: raw)
        case 8:
            let inflated = try Inflate.rawDeflate(UnsafeRawBufferPointer(rebasing: file.buffer[raw]), size: member.size, path: where_)
            let crc = Inflate.crc32(inflated.buffer)
            guard crc == member.crc32 else {
                throw LensDataError(path: where_, "CRC-32 mismatch (computed \(hex(crc)), the archive says \(hex(member.crc32))): the member is corrupt")
            }
            return ByteSlice(inflated)
        default:
            throw LensDataError(path: where_, "compression method \(member.method) is not supported (expected 0 stored or 8 deflate, as numpy writes)")
        }
    }

    // MARK: - Parsing

    /// Where the central directory is and how many members it lists.
    struct EndRecord { var entries: Int; var directoryOffset: Int; var directorySize: Int; var recordOffset: Int }

    static let endSignature: UInt32 = 0x0605_4B50
    static let zip64EndSignature: UInt32 = 0x0606_4B50
    static let zip64LocatorSignature: UInt32 = 0x0706_4B50
    static let centralSignature: UInt32 = 0x0201_4B50
    static let localSignature: UInt32 = 0x0403_4B50

    /// Finds the end of central directory record (22 bytes plus a comment of up to 65,535 bytes at
    /// the end of the file), and its zip64 counterpart when the plain one is saturated.
    static func endRecord(_ b: UnsafeRawBufferPointer, path: String) throws -> EndRecord {
        guard b.count >= 22 else { throw LensDataError(path: path, "file is \(b.count) bytes, too short for a zip archive (.npz)") }
        var at = -1
        let lowest = max(0, b.count - 22 - 0xFFFF)
        var i = b.count - 22
        while i >= lowest {
            if u32(b, i) == endSignature && i + 22 + Int(u16(b, i + 20)) <= b.count { at = i; break }
            i -= 1
        }
        guard at >= 0 else {
            throw LensDataError(path: path, "not a zip archive (.npz): no end of central directory record (truncated, or not written by np.savez?)")
        }
        guard u16(b, at + 4) == 0, u16(b, at + 6) == 0 else {
            throw LensDataError(path: path, offset: at, "multi-disk zip archives are not supported")
        }
        var record = EndRecord(entries: Int(u16(b, at + 10)), directoryOffset: Int(u32(b, at + 16)),
                               directorySize: Int(u32(b, at + 12)), recordOffset: at)
        if record.entries == 0xFFFF || record.directoryOffset == 0xFFFF_FFFF || record.directorySize == 0xFFFF_FFFF {
            // Zip64: a 20-byte locator just before the end record points at a 56-byte zip64 record.
            let loc = at - 20
            guard loc >= 0, u32(b, loc) == zip64LocatorSignature else {
                throw LensDataError(path: path, offset: at, "end record is saturated (zip64) but there is no zip64 locator before it")
            }
            let z = Int(clamping: u64(b, loc + 8))
            guard z >= 0, z <= loc - 56, u32(b, z) == zip64EndSignature else {
                throw LensDataError(path: path, offset: loc, "zip64 locator points at byte \(z), where there is no zip64 end record")
            }
            record = EndRecord(entries: Int(clamping: u64(b, z + 32)), directoryOffset: Int(clamping: u64(b, z + 48)),
                               directorySize: Int(clamping: u64(b, z + 40)), recordOffset: z)
        }
        let (dirEnd, overflow) = record.directoryOffset.addingReportingOverflow(record.directorySize)
        guard !overflow, dirEnd <= record.recordOffset else {
            throw LensDataError(path: path, offset: record.recordOffset,
                                "central directory (\(record.directorySize) bytes at byte \(record.directoryOffset)) does not end before the end record at byte \(record.recordOffset)")
        }
        guard record.entries <= record.directorySize / 46 else {
            throw LensDataError(path: path, offset: record.recordOffset,
                                "end record claims \(record.entries) members, more than \(record.directorySize) directory bytes can list")
        }
        return record
    }

    /// Reads every central directory entry and checks its local header and data against the file.
    static func centralDirectory(_ b: UnsafeRawBufferPointer, end: EndRecord, path: String) throws -> [Member] {
        var members: [Member] = []
        members.reserveCapacity(end.entries)
        var names = Set<String>()
        var p = end.directoryOffset
        let dirEnd = end.directoryOffset + end.directorySize
        for k in 0..<end.entries {
            guard p + 46 <= dirEnd, u32(b, p) == centralSignature else {
                throw LensDataError(path: path, offset: p, "central directory entry \(k) is missing or corrupt (expected signature PK\\1\\2)")
            }
            let flags = u16(b, p + 8), method = Int(u16(b, p + 10))
            let nameLength = Int(u16(b, p + 28)), extraLength = Int(u16(b, p + 30)), commentLength = Int(u16(b, p + 32))
            let entryEnd = p + 46 + nameLength + extraLength + commentLength
            guard entryEnd <= dirEnd else {
                throw LensDataError(path: path, offset: p, "central directory entry \(k) runs past the end of the directory")
            }
            let nameBytes = Array(b[(p + 46)..<(p + 46 + nameLength)])
            let name = RawName.display(nameBytes)
            guard flags & 1 == 0 else { throw LensDataError(path: "\(path):\(name)", "member is encrypted; lenspipe reads only unencrypted archives") }
            var size = Int(u32(b, p + 24)), compressed = Int(u32(b, p + 20)), local = Int(u32(b, p + 42))
            // Zip64 extra field (id 1): 8-byte values for exactly those fields that are 0xFFFFFFFF, in this order.
            if size == 0xFFFF_FFFF || compressed == 0xFFFF_FFFF || local == 0xFFFF_FFFF {
                var e = p + 46 + nameLength
                let extraEnd = e + extraLength
                var found = false
                while e + 4 <= extraEnd {
                    let id = u16(b, e), length = Int(u16(b, e + 2))
                    guard e + 4 + length <= extraEnd else { break }
                    if id == 1 {
                        var q = e + 4
                        func next() throws -> Int {
                            guard q + 8 <= e + 4 + length else {
                                throw LensDataError(path: "\(path):\(name)", offset: e, "zip64 extra field is too short for the fields it must hold")
                            }
                            defer { q += 8 }
                            return Int(clamping: u64(b, q))
                        }
                        if size == 0xFFFF_FFFF { size = try next() }
                        if compressed == 0xFFFF_FFFF { compressed = try next() }
                        if local == 0xFFFF_FFFF { local = try next() }
                        found = true
                        break
                    }
                    e += 4 + length
                }
                guard found else { throw LensDataError(path: "\(path):\(name)", offset: p, "sizes are saturated (zip64) but there is no zip64 extra field") }
            }
            let dataOffset = try localData(b, at: local, name: nameBytes, displayName: name, compressed: compressed,
                                           before: end.directoryOffset, path: path)
            let where_ = "\(path):\(name)"
            switch method {
            case 0:
                guard compressed == size else {
                    throw LensDataError(path: where_, "stored member declares \(compressed) bytes on disk but \(size) bytes of content")
                }
            case 8:
                guard size <= maxInflatedMemberBytes else {
                    throw LensDataError(path: where_, "deflated member declares \(size) bytes, over the limit of \(maxInflatedMemberBytes) for compressed members (use np.savez, which stores)")
                }
                guard size <= compressed * maxDeflateRatio + 1024 else {
                    throw LensDataError(path: where_, "deflated member declares \(size) bytes from \(compressed) compressed ones, more than deflate can produce: corrupt")
                }
            default:
                break  // refused when read, so an archive with an unrelated member still opens
            }
            guard names.insert(name).inserted else { throw LensDataError(path: path, "member \(name) appears twice") }
            members.append(Member(name: name, method: method, crc32: u32(b, p + 16), compressedSize: compressed, size: size, dataOffset: dataOffset))
            p = entryEnd
        }
        return members
    }

    /// Checks the local header at `offset` (signature, name as in the directory) and returns where
    /// the member's data start; the data must end before the central directory.
    static func localData(_ b: UnsafeRawBufferPointer, at offset: Int, name: [UInt8], displayName: String, compressed: Int,
                          before directory: Int, path: String) throws -> Int {
        let where_ = "\(path):\(displayName)"
        guard offset >= 0, offset + 30 <= directory, u32(b, offset) == localSignature else {
            throw LensDataError(path: where_, offset: offset, "no local header at byte \(offset), where the directory says the member starts")
        }
        let nameLength = Int(u16(b, offset + 26)), extraLength = Int(u16(b, offset + 28))
        let data = offset + 30 + nameLength + extraLength
        guard data <= directory, Array(b[(offset + 30)..<(offset + 30 + nameLength)]) == name else {
            throw LensDataError(path: where_, offset: offset, "local header does not match the directory entry (name or length differ)")
        }
        let (dataEnd, overflow) = data.addingReportingOverflow(compressed)
        guard compressed >= 0, !overflow, dataEnd <= directory else {
            throw LensDataError(path: where_, offset: data, "member claims \(compressed) bytes at byte \(data), past the start of the central directory at byte \(directory) (truncated?)")
        }
        return data
    }

    // Little-endian loads; callers have checked the bounds.
    static func u16(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt16 { UInt16(b[i]) | UInt16(b[i + 1]) << 8 }
    static func u32(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[i + $1]) << (8 * $1) } }
    static func u64(_ b: UnsafeRawBufferPointer, _ i: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[i + $1]) << (8 * $1) } }
}

private func hex(_ v: UInt32) -> String { "0x" + String(v, radix: 16) }
