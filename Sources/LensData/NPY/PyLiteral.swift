/// The Python literals an NPY header may hold: the subset `ast.literal_eval` would see there.
enum PyLiteral: Sendable, Equatable {
    case string(String)
    case int(Int)
    case bool(Bool)
    case none
    case tuple([PyLiteral])
    case list([PyLiteral])
    case dict([String: PyLiteral])
}

/// A small recursive-descent parser for NPY header dicts. It never evaluates anything, limits
/// nesting depth, and reports the character offset of the first thing it does not understand.
struct PyLiteralParser {
    struct Failure: Error {
        var position: Int
        var message: String
    }

    private let chars: [UInt8]
    private var pos = 0
    private static let maxDepth = 16

    init(_ text: String) { chars = Array(text.utf8) }

    mutating func parseTopLevel() throws -> PyLiteral {
        let value = try parseValue(depth: 0)
        skipSpace()
        guard pos == chars.count else { throw Failure(position: pos, message: "unexpected text after the dict") }
        return value
    }

    private mutating func skipSpace() {
        while pos < chars.count, chars[pos] == 0x20 || chars[pos] == 0x0A || chars[pos] == 0x09 || chars[pos] == 0x0D { pos += 1 }
    }

    private func fail(_ message: String) -> Failure { Failure(position: pos, message: message) }

    private mutating func parseValue(depth: Int) throws -> PyLiteral {
        guard depth < Self.maxDepth else { throw fail("nesting deeper than \(Self.maxDepth)") }
        skipSpace()
        guard pos < chars.count else { throw fail("unexpected end of header") }
        switch chars[pos] {
        case UInt8(ascii: "{"): return try parseDict(depth: depth)
        case UInt8(ascii: "("): return try parseSequence(close: UInt8(ascii: ")"), depth: depth, tuple: true)
        case UInt8(ascii: "["): return try parseSequence(close: UInt8(ascii: "]"), depth: depth, tuple: false)
        case UInt8(ascii: "'"), UInt8(ascii: "\""): return .string(try parseString())
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .int(try parseInt())
        default:
            for (word, value) in [("True", PyLiteral.bool(true)), ("False", .bool(false)), ("None", .none)] {
                let w = Array(word.utf8)
                if pos + w.count <= chars.count, Array(chars[pos..<(pos + w.count)]) == w {
                    pos += w.count
                    return value
                }
            }
            throw fail("expected a string, number, tuple, True, False or None")
        }
    }

    private mutating func parseDict(depth: Int) throws -> PyLiteral {
        pos += 1
        var out: [String: PyLiteral] = [:]
        while true {
            skipSpace()
            guard pos < chars.count else { throw fail("unterminated dict") }
            if chars[pos] == UInt8(ascii: "}") { pos += 1; return .dict(out) }
            guard chars[pos] == UInt8(ascii: "'") || chars[pos] == UInt8(ascii: "\"") else { throw fail("dict keys must be strings") }
            let key = try parseString()
            skipSpace()
            guard pos < chars.count, chars[pos] == UInt8(ascii: ":") else { throw fail("expected ':' after key '\(key)'") }
            pos += 1
            guard out[key] == nil else { throw fail("duplicate key '\(key)'") }
            out[key] = try parseValue(depth: depth + 1)
            skipSpace()
            guard pos < chars.count else { throw fail("unterminated dict") }
            if chars[pos] == UInt8(ascii: ",") { pos += 1 } else if chars[pos] != UInt8(ascii: "}") { throw fail("expected ',' or '}'") }
        }
    }

    private mutating func parseSequence(close: UInt8, depth: Int, tuple: Bool) throws -> PyLiteral {
        pos += 1
        var items: [PyLiteral] = []
        var sawComma = false
        while true {
            skipSpace()
            guard pos < chars.count else { throw fail("unterminated \(tuple ? "tuple" : "list")") }
            if chars[pos] == close {
                pos += 1
                // `(5)` is the integer 5 in Python, not a tuple.
                if tuple, items.count == 1, !sawComma { return items[0] }
                return tuple ? .tuple(items) : .list(items)
            }
            items.append(try parseValue(depth: depth + 1))
            guard items.count <= 64 else { throw fail("more than 64 items") }
            skipSpace()
            guard pos < chars.count else { throw fail("unterminated \(tuple ? "tuple" : "list")") }
            if chars[pos] == UInt8(ascii: ",") { pos += 1; sawComma = true } else if chars[pos] != close { throw fail("expected ',' or a closing bracket") }
        }
    }

    private mutating func parseString() throws -> String {
        let quote = chars[pos]
        pos += 1
        var bytes: [UInt8] = []
        while pos < chars.count, chars[pos] != quote {
            if chars[pos] == UInt8(ascii: "\\") { throw fail("escapes in header strings are not supported") }
            bytes.append(chars[pos])
            pos += 1
        }
        guard pos < chars.count else { throw fail("unterminated string") }
        pos += 1
        return String(decoding: bytes, as: UTF8.self)
    }

    private mutating func parseInt() throws -> Int {
        let start = pos
        if chars[pos] == UInt8(ascii: "-") { pos += 1 }
        var value = 0
        var digits = 0
        while pos < chars.count, chars[pos] >= UInt8(ascii: "0"), chars[pos] <= UInt8(ascii: "9") {
            let (m, o1) = value.multipliedReportingOverflow(by: 10)
            let (a, o2) = m.addingReportingOverflow(Int(chars[pos] - UInt8(ascii: "0")))
            guard !o1, !o2 else { throw Failure(position: start, message: "integer too large") }
            value = a
            digits += 1
            pos += 1
        }
        if pos < chars.count, chars[pos] == UInt8(ascii: "L") { pos += 1 }  // Python 2 long suffix
        guard digits > 0 else { throw Failure(position: start, message: "expected digits") }
        return chars[start] == UInt8(ascii: "-") ? -value : value
    }
}
