/// A numpy element type, as written in an NPY header's `descr` (`'<i8'`, `'>f4'`, `'|b1'`, `'|O'`).
public struct NPYDType: Sendable, Hashable, CustomStringConvertible {
    public enum Kind: Sendable, Hashable { case bool, int, uint, float, object }

    public var kind: Kind
    /// Bytes per element (8 for object pointers, by numpy's convention).
    public var itemSize: Int
    /// True when the bytes on disk are big-endian.
    public var bigEndian: Bool

    public init(kind: Kind, itemSize: Int, bigEndian: Bool = false) {
        self.kind = kind
        self.itemSize = itemSize
        self.bigEndian = bigEndian
    }

    /// Parses a numpy type string: an optional byte order (`<`, `>`, `|`, `=`), a kind letter and a size.
    /// Returns nil for anything lenspipe cannot turn into pixels (complex, strings, structured types).
    public init?(descr: String) {
        var s = Substring(descr)
        var big = false
        if let first = s.first, "<>|=".contains(first) {
            big = first == ">"
            s = s.dropFirst()
        }
        guard let letter = s.first else { return nil }
        let digits = s.dropFirst()
        if letter == "O" {
            guard digits.isEmpty || digits == "8" else { return nil }
            self.init(kind: .object, itemSize: 8)
            return
        }
        guard let size = Int(digits) else { return nil }
        switch (letter, size) {
        case ("b", 1), ("?", 1): self.init(kind: .bool, itemSize: 1)
        case ("i", 1), ("i", 2), ("i", 4), ("i", 8): self.init(kind: .int, itemSize: size, bigEndian: big && size > 1)
        case ("u", 1), ("u", 2), ("u", 4), ("u", 8): self.init(kind: .uint, itemSize: size, bigEndian: big && size > 1)
        case ("f", 2), ("f", 4), ("f", 8): self.init(kind: .float, itemSize: size, bigEndian: big)
        default: return nil
        }
    }

    /// numpy's name: `int64`, `uint8`, `float16`, `bool`, `object`.
    public var name: String {
        switch kind {
        case .bool: return "bool"
        case .int: return "int\(itemSize * 8)"
        case .uint: return "uint\(itemSize * 8)"
        case .float: return "float\(itemSize * 8)"
        case .object: return "object"
        }
    }

    /// The `descr` string numpy writes for this type (`'<i8'`, `'|u1'`).
    public var descr: String {
        switch kind {
        case .bool: return "|b1"
        case .object: return "|O"
        default:
            let order = itemSize == 1 ? "|" : (bigEndian ? ">" : "<")
            let letter = kind == .int ? "i" : kind == .uint ? "u" : "f"
            return "\(order)\(letter)\(itemSize)"
        }
    }

    public var description: String { name }

    public static let float32 = NPYDType(kind: .float, itemSize: 4)
    public static let float64 = NPYDType(kind: .float, itemSize: 8)
    public static let int64 = NPYDType(kind: .int, itemSize: 8)
}
