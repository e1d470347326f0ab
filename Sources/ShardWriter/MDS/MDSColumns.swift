/// The columns of an MDS data set, kept in the sorted order MDS stores them in.
public struct MDSColumns: Sendable, Equatable {
    public let names: [String]
    public let encodings: [MDSEncoding]

    /// - Parameter columns: name -> encoding; sorted by name (Python `sorted`) on the way in.
    public init(_ columns: [String: MDSEncoding]) {
        let sorted = columns.keys.sorted { $0.unicodeScalars.lexicographicallyPrecedes($1.unicodeScalars) }
        names = sorted
        encodings = sorted.map { columns[$0]! }
    }

    public init(names: [String], encodings: [MDSEncoding]) {
        self.names = names
        self.encodings = encodings
    }

    /// The shard config fields shared by every shard entry.
    func config(compression: String?, hashes: [String], sizeLimit: Int?) -> [String: PythonJSON] {
        [
            "column_encodings": .array(encodings.map { .string($0.text) }),
            "column_names": .array(names.map { .string($0) }),
            "column_sizes": .array(encodings.map { $0.fixedSize.map { .int($0) } ?? .null }),
            "compression": compression.map { .string($0) } ?? .null,
            "format": .string("mds"),
            "hashes": .array(hashes.map { .string($0) }),
            "size_limit": sizeLimit.map { .int($0) } ?? .null,
            "version": .int(2),
        ]
    }

    /// One sample record: u32 sizes of the variable columns, then every value in column order.
    func record(_ values: [String: MDSValue]) throws -> [UInt8] {
        var sizes: [UInt8] = []
        var body: [UInt8] = []
        for (name, encoding) in zip(names, encodings) {
            guard let v = values[name] else { throw MDSError("sample has no value for column '\(name)'") }
            let before = body.count
            try v.encode(encoding, into: &body)
            if encoding.fixedSize == nil {
                let n = UInt32(body.count - before)
                withUnsafeBytes(of: n.littleEndian) { sizes += $0 }
            }
        }
        return sizes + body
    }

    /// Decodes one record.
    public func decode(_ record: UnsafeRawBufferPointer) throws -> [String: MDSValue] {
        let variable = encodings.filter { $0.fixedSize == nil }.count
        guard record.count >= 4 * variable else { throw MDSError("record of \(record.count) bytes is shorter than its size table") }
        var sizes: [Int] = []
        for k in 0..<variable { sizes.append(Int(record.loadUnaligned(fromByteOffset: 4 * k, as: UInt32.self).littleEndian)) }
        var pos = 4 * variable
        var next = 0
        var out: [String: MDSValue] = [:]
        for (name, encoding) in zip(names, encodings) {
            let size: Int
            if let fixed = encoding.fixedSize { size = fixed } else { size = sizes[next]; next += 1 }
            guard size >= 0, pos + size <= record.count else { throw MDSError("column '\(name)' runs past the end of its record") }
            out[name] = try MDSValue.decode(encoding, UnsafeRawBufferPointer(rebasing: record[pos..<(pos + size)]))
            pos += size
        }
        guard pos == record.count else { throw MDSError("record has \(record.count - pos) bytes after its last column") }
        return out
    }
}
