/// A pickle reader that understands only what `np.save` writes for object arrays, and executes nothing.
///
/// Python's `pickle.load` runs whatever callables a stream names (`os.system`, `builtins.eval`, ...),
/// which is why numpy refuses object arrays without `allow_pickle=True`. This machine implements the
/// opcodes of protocols 2-5 that carry data (ints, floats, bytes, strings, tuples, lists, memo) and
/// accepts exactly the globals in `PickleGlobal`, each interpreted by lenspipe. Any other global or
/// opcode stops the load with an error naming it. Sizes are checked against the bytes that remain, so
/// a lying length cannot cause a large allocation; the stack, the marks, the memo and the nesting
/// depth are bounded, and tearing the values down never recurses (`PickleArena`).
///
///     let payload = try StrictUnpickler.read(bytes: data, path: path, fileOffset: 128) { ObjectArrayPayload($0) }
struct StrictUnpickler {
    private let bytes: UnsafeRawBufferPointer
    private let path: String
    /// Offset of `bytes[0]` in the file, for error messages.
    private let fileOffset: Int
    private var pos = 0
    private var stack: [PickleValue] = []
    private var marks: [Int] = []
    private var memo: [Int: PickleValue] = [:]
    private let arena = PickleArena()

    static let maxStackDepth = 100_000
    static let maxMemo = 1_000_000
    /// Deepest nesting of tuples, lists and object arrays accepted. Python's pickler recurses once per
    /// level and stops at its default recursion limit of 1000, so no pickle Python writes is deeper.
    static let maxNesting = 1000

    private init(bytes: UnsafeRawBufferPointer, path: String, fileOffset: Int) {
        self.bytes = bytes
        self.path = path
        self.fileOffset = fileOffset
    }

    /// Unpickles `bytes` and hands the top value to `body`, then takes every container apart
    /// (whether `body` or the load threw or not). `body` must not let a `PickleValue` escape: after
    /// it returns, tuples, lists and object arrays are empty.
    /// - Parameters:
    ///   - path: the file, for errors; `fileOffset`: where `bytes` start in it.
    static func read<R>(bytes: UnsafeRawBufferPointer, path: String, fileOffset: Int, _ body: (PickleValue) throws -> R) throws -> R {
        var machine = StrictUnpickler(bytes: bytes, path: path, fileOffset: fileOffset)
        defer { machine.arena.dismantle() }
        return try body(try machine.load())
    }

    private func fail(_ message: String, at offset: Int? = nil) -> LensDataError {
        LensDataError(path: path, offset: fileOffset + (offset ?? pos), "pickle: \(message)")
    }

    /// Runs the stream to its STOP opcode and returns the top value.
    private mutating func load() throws -> PickleValue {
        while true {
            guard pos < bytes.count else { throw fail("stream ends without a STOP opcode") }
            let opAt = pos
            let op = bytes[pos]
            pos += 1
            switch op {
            case 0x80: _ = try readBytes(1)  // PROTO n
            case 0x95: _ = try readBytes(8)  // FRAME len: framing is only a hint
            case 0x2E:  // STOP
                guard stack.count == 1, marks.isEmpty else { throw fail("STOP with \(stack.count) values on the stack", at: opAt) }
                return stack[0]
            case 0x28:  // MARK
                guard marks.count < Self.maxStackDepth else { throw fail("more than \(Self.maxStackDepth) open MARKs", at: opAt) }
                marks.append(stack.count)
            case 0x30: _ = try pop()  // POP
            case 0x31: _ = try popMark()  // POP_MARK
            case 0x32: try push(try top())  // DUP
            case 0x4E: try push(.none)  // NONE
            case 0x88: try push(.bool(true))  // NEWTRUE
            case 0x89: try push(.bool(false))  // NEWFALSE
            case 0x4A: try push(.int(Int(Int32(bitPattern: try readUInt(4)))))  // BININT
            case 0x4B: try push(.int(Int(try readUInt(1))))  // BININT1
            case 0x4D: try push(.int(Int(try readUInt(2))))  // BININT2
            case 0x8A: try push(.int(try readLong(Int(try readUInt(1)))))  // LONG1
            case 0x47:  // BINFLOAT: big-endian float64
                let raw = try readBytes(8)
                var bits: UInt64 = 0
                for b in raw { bits = bits << 8 | UInt64(b) }
                try push(.float(Double(bitPattern: bits)))
            case 0x43: try push(.bytes(Array(try readBytes(Int(try readUInt(1))))))  // SHORT_BINBYTES
            case 0x42: try push(.bytes(Array(try readBytes(Int(try readUInt(4))))))  // BINBYTES
            case 0x8E, 0x96: try push(.bytes(Array(try readBytes(try readLength8()))))  // BINBYTES8, BYTEARRAY8
            case 0x8C: try push(.string(try readString(Int(try readUInt(1)))))  // SHORT_BINUNICODE
            case 0x58: try push(.string(try readString(Int(try readUInt(4)))))  // BINUNICODE
            case 0x8D: try push(.string(try readString(try readLength8())))  // BINUNICODE8
            case 0x55: try push(.string(latin1(try readBytes(Int(try readUInt(1))))))  // SHORT_BINSTRING (py2 str)
            case 0x54: try push(.string(latin1(try readBytes(Int(Int32(bitPattern: try readUInt(4)))))))  // BINSTRING
            case 0x29: try push(.tuple(try container([], at: opAt)))  // EMPTY_TUPLE
            case 0x74: try push(.tuple(try container(try popMark(), at: opAt)))  // TUPLE
            case 0x85: let a = try pop(); try push(.tuple(try container([a], at: opAt)))  // TUPLE1
            case 0x86: let b = try pop(), a = try pop(); try push(.tuple(try container([a, b], at: opAt)))  // TUPLE2
            case 0x87: let c = try pop(), b = try pop(), a = try pop(); try push(.tuple(try container([a, b, c], at: opAt)))  // TUPLE3
            case 0x5D: try push(.list(try container([], at: opAt)))  // EMPTY_LIST
            case 0x6C: try push(.list(try container(try popMark(), at: opAt)))  // LIST
            case 0x61:  // APPEND
                let item = try pop()
                guard case .list(let l) = try top() else { throw fail("APPEND to a non-list", at: opAt) }
                try append([item], to: l, at: opAt)
            case 0x65:  // APPENDS
                let items = try popMark()
                guard case .list(let l) = try top() else { throw fail("APPENDS to a non-list", at: opAt) }
                try append(items, to: l, at: opAt)
            case 0x63:  // GLOBAL "module\nname\n"
                let module = try readLine(), name = try readLine()
                try push(.global(try resolve(module: module, name: name, at: opAt)))
            case 0x93:  // STACK_GLOBAL
                guard case .string(let name) = try pop(), case .string(let module) = try pop() else {
                    throw fail("STACK_GLOBAL needs two strings", at: opAt)
                }
                try push(.global(try resolve(module: module, name: name, at: opAt)))
            case 0x52:  // REDUCE
                let args = try pop(), callable = try pop()
                guard case .global(let g) = callable, case .tuple(let a) = args else {
                    throw fail("REDUCE of \(callable.kindName) with \(args.kindName)", at: opAt)
                }
                try push(try call(g, a.items, at: opAt))
            case 0x62:  // BUILD
                let state = try pop()
                try build(try top(), state: state, at: opAt)
            case 0x71: try memoPut(Int(try readUInt(1)))  // BINPUT
            case 0x72: try memoPut(Int(try readUInt(4)))  // LONG_BINPUT
            case 0x94: try memoPut(memo.count)  // MEMOIZE
            case 0x68: try memoGet(Int(try readUInt(1)), at: opAt)  // BINGET
            case 0x6A: try memoGet(Int(try readUInt(4)), at: opAt)  // LONG_BINGET
            default:
                throw fail("opcode \(Self.opcodeName(op)) (0x\(String(op, radix: 16))) is not allowed in a numpy object array", at: opAt)
            }
        }
    }

    // MARK: - Containers, stack and memo

    /// A new tuple or list holding `items`, kept in the arena; refused when it nests too deep.
    private func container(_ items: [PickleValue], at: Int) throws -> PickleItems {
        let c = PickleItems(items)
        guard c.depth <= Self.maxNesting else { throw nestingError(at: at) }
        return arena.keep(c)
    }
    private func append(_ items: [PickleValue], to list: PickleItems, at: Int) throws {
        list.items.append(contentsOf: items)
        list.depth = max(list.depth, 1 + (items.lazy.map(\.depth).max() ?? 0))
        guard list.depth <= Self.maxNesting else { throw nestingError(at: at) }
    }
    private func nestingError(at: Int) -> LensDataError {
        fail("values nest deeper than \(Self.maxNesting) levels (numpy object arrays nest a few; Python cannot pickle deeper)", at: at)
    }

    private mutating func push(_ v: PickleValue) throws {
        guard stack.count < Self.maxStackDepth else { throw fail("stack deeper than \(Self.maxStackDepth)") }
        stack.append(v)
    }
    private mutating func pop() throws -> PickleValue {
        if let m = marks.last, stack.count <= m { throw fail("pop across a MARK") }
        guard let v = stack.popLast() else { throw fail("pop from an empty stack") }
        return v
    }
    private func top() throws -> PickleValue {
        guard let v = stack.last else { throw fail("empty stack") }
        return v
    }
    private mutating func popMark() throws -> [PickleValue] {
        guard let m = marks.popLast() else { throw fail("no MARK on the stack") }
        let items = Array(stack[m...])
        stack.removeSubrange(m...)
        return items
    }
    private mutating func memoPut(_ key: Int) throws {
        guard memo.count < Self.maxMemo else { throw fail("memo holds more than \(Self.maxMemo) entries") }
        memo[key] = try top()
    }
    private mutating func memoGet(_ key: Int, at: Int) throws {
        guard let v = memo[key] else { throw fail("memo key \(key) was never stored", at: at) }
        try push(v)
    }

    // MARK: - Reading operands

    private mutating func readBytes(_ n: Int) throws -> UnsafeRawBufferPointer {
        guard n >= 0, n <= bytes.count - pos else {
            throw fail("operand of \(n) bytes runs past the end of the file (\(bytes.count - pos) left)")
        }
        defer { pos += n }
        return UnsafeRawBufferPointer(rebasing: bytes[pos..<(pos + n)])
    }
    private mutating func readUInt(_ n: Int) throws -> UInt32 {
        var v: UInt32 = 0
        for (i, b) in try readBytes(n).enumerated() { v |= UInt32(b) << (8 * UInt32(i)) }
        return v
    }
    private mutating func readLength8() throws -> Int {
        var v: UInt64 = 0
        for (i, b) in try readBytes(8).enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        guard v <= UInt64(bytes.count - pos) else { throw fail("length \(v) runs past the end of the file") }
        return Int(v)
    }
    private mutating func readLong(_ n: Int) throws -> Int {
        guard n <= 8 else { throw fail("integer of \(n) bytes is too large") }
        let raw = try readBytes(n)
        guard n > 0 else { return 0 }
        var v: UInt64 = 0
        for (i, b) in raw.enumerated() { v |= UInt64(b) << (8 * UInt64(i)) }
        let shift = UInt64(64 - 8 * n)
        return Int(Int64(bitPattern: v << shift) >> Int64(shift))
    }
    private mutating func readString(_ n: Int) throws -> String {
        let raw = try readBytes(n)
        guard let s = String(validating: raw, as: UTF8.self) else { throw fail("string is not valid UTF-8") }
        return s
    }
    private mutating func readLine() throws -> String {
        let start = pos
        while pos < bytes.count, bytes[pos] != 0x0A {
            pos += 1
            guard pos - start < 256 else { throw fail("GLOBAL name longer than 256 bytes", at: start) }
        }
        guard pos < bytes.count else { throw fail("GLOBAL name runs past the end of the file", at: start) }
        let s = latin1(UnsafeRawBufferPointer(rebasing: bytes[start..<pos]))
        pos += 1
        return s
    }
    private func latin1(_ raw: UnsafeRawBufferPointer) -> String {
        String(decoding: raw.map { UInt16($0) }, as: UTF16.self)
    }

    private func resolve(module: String, name: String, at: Int) throws -> PickleGlobal {
        guard let g = PickleGlobal(module: module, name: name) else {
            throw fail("global '\(module).\(name)' is not allowed (only numpy array reconstruction is; nothing was executed)", at: at)
        }
        return g
    }
}

extension StrictUnpickler {
    /// Interprets a REDUCE of an allowed global.
    private func call(_ g: PickleGlobal, _ args: [PickleValue], at: Int) throws -> PickleValue {
        switch g {
        case .reconstruct:
            guard args.count == 3, case .global(.ndarrayType) = args[0] else {
                throw fail("_reconstruct expects (numpy.ndarray, shape, typecode)", at: at)
            }
            return .ndarray(arena.keep(PickleNDArray()))
        case .dtypeType:
            guard args.count >= 1, case .string(let code) = args[0] else { throw fail("numpy.dtype expects a type code string", at: at) }
            return .dtype(PickleDType(code: code))
        case .scalar:
            guard args.count == 2, case .dtype(let d) = args[0], let dtype = d.dtype, dtype.kind != .object else {
                throw fail("numpy scalar expects (numeric dtype, bytes)", at: at)
            }
            let raw: [UInt8]
            switch args[1] {
            case .bytes(let b): raw = b
            case .string(let s): raw = s.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }
            default: throw fail("numpy scalar data is \(args[1].kindName), expected bytes", at: at)
            }
            guard raw.count == dtype.itemSize else {
                throw fail("numpy scalar of type \(dtype.name) has \(raw.count) bytes, expected \(dtype.itemSize)", at: at)
            }
            let a = arena.keep(PickleNDArray())
            a.shape = []
            a.dtype = dtype
            a.raw = raw
            return .ndarray(a)
        case .frombuffer:
            guard args.count == 4, case .bytes(let raw) = args[0], case .dtype(let d) = args[1], let dtype = d.dtype,
                  dtype.kind != .object, case .tuple(let dims) = args[2], case .string(let order) = args[3] else {
                throw fail("_frombuffer expects (bytes, numeric dtype, shape, order)", at: at)
            }
            let a = arena.keep(PickleNDArray())
            a.shape = try shape(dims.items, at: at)
            a.dtype = dtype
            a.fortranOrder = order == "F"
            try checkRaw(raw, for: a, at: at)
            a.raw = raw
            return .ndarray(a)
        case .codecsEncode:
            guard args.count == 2, case .string(let s) = args[0], case .string(let enc) = args[1], enc == "latin1" || enc == "latin-1" else {
                throw fail("_codecs.encode is only allowed as encode(str, 'latin1')", at: at)
            }
            var out: [UInt8] = []
            for u in s.unicodeScalars {
                guard u.value < 256 else { throw fail("_codecs.encode: character outside latin-1", at: at) }
                out.append(UInt8(u.value))
            }
            return .bytes(out)
        case .ndarrayType:
            throw fail("numpy.ndarray cannot be called directly", at: at)
        }
    }

    /// Interprets a BUILD (`__setstate__`) on an ndarray or dtype.
    private func build(_ target: PickleValue, state: PickleValue, at: Int) throws {
        guard case .tuple(let t) = state else { throw fail("BUILD state is \(state.kindName), expected a tuple", at: at) }
        let s = t.items
        switch target {
        case .dtype(let d):
            // (version, byteorder, subarray, names, fields, elsize, alignment, flags)
            guard s.count >= 5, case .string(let order) = s[1] else { throw fail("dtype state is malformed", at: at) }
            if case .none = s[3] {} else { throw fail("structured dtypes are not image data", at: at) }
            if case .none = s[2] {} else { throw fail("sub-array dtypes are not supported", at: at) }
            d.byteOrder = order.first ?? "|"
        case .ndarray(let a):
            // (version, shape, dtype, is_fortran, data)
            guard s.count == 5, case .tuple(let dims) = s[1], case .dtype(let d) = s[2], case .bool(let fortran) = s[3] else {
                throw fail("ndarray state must be (version, shape, dtype, is_fortran, data)", at: at)
            }
            guard let dtype = d.dtype else { throw fail("array dtype '\(d.code)' is not a numeric or object type", at: at) }
            a.shape = try shape(dims.items, at: at)
            a.dtype = dtype
            a.fortranOrder = fortran
            if dtype.kind == .object {
                guard case .list(let l) = s[4] else { throw fail("object array data is \(s[4].kindName), expected a list", at: at) }
                guard l.items.count == a.elementCount else {
                    throw fail("object array of shape \(a.shape) holds \(l.items.count) items, expected \(a.elementCount)", at: at)
                }
                a.objects = l.items
                a.depth = l.depth
            } else {
                let raw: [UInt8]
                switch s[4] {
                case .bytes(let b): raw = b
                case .string(let str): raw = str.unicodeScalars.map { UInt8(truncatingIfNeeded: $0.value) }  // protocol 0/1 latin-1
                default: throw fail("array data is \(s[4].kindName), expected bytes", at: at)
                }
                try checkRaw(raw, for: a, at: at)
                a.raw = raw
            }
        default:
            throw fail("BUILD on \(target.kindName) is not allowed", at: at)
        }
    }

    private func shape(_ dims: [PickleValue], at: Int) throws -> [Int] {
        var out: [Int] = []
        var total = 1
        for d in dims {
            guard case .int(let n) = d, n >= 0 else { throw fail("array shape holds \(d.kindName), expected non-negative ints", at: at) }
            let (p, o) = total.multipliedReportingOverflow(by: n)
            guard !o, p <= bytes.count * 8 + 1 else { throw fail("array shape \(dims.count)-d claims more elements than the file can hold", at: at) }
            total = p
            out.append(n)
        }
        return out
    }

    private func checkRaw(_ raw: [UInt8], for a: PickleNDArray, at: Int) throws {
        guard raw.count == a.elementCount * a.dtype.itemSize else {
            throw fail("array of shape \(a.shape) and type \(a.dtype.name) needs \(a.elementCount * a.dtype.itemSize) bytes, found \(raw.count)", at: at)
        }
    }

    static func opcodeName(_ op: UInt8) -> String {
        let names: [UInt8: String] = [
            0x69: "INST", 0x6F: "OBJ", 0x81: "NEWOBJ", 0x92: "NEWOBJ_EX", 0x7D: "EMPTY_DICT", 0x64: "DICT",
            0x73: "SETITEM", 0x75: "SETITEMS", 0x8F: "EMPTY_SET", 0x90: "ADDITEMS", 0x91: "FROZENSET",
            0x50: "PERSID", 0x51: "BINPERSID", 0x82: "EXT1", 0x83: "EXT2", 0x84: "EXT4", 0x97: "NEXT_BUFFER",
            0x98: "READONLY_BUFFER", 0x49: "INT", 0x4C: "LONG", 0x46: "FLOAT", 0x53: "STRING", 0x56: "UNICODE",
            0x70: "PUT", 0x67: "GET", 0x8B: "LONG4",
        ]
        return names[op] ?? "unknown"
    }
}

/// Every tuple, list and ndarray one unpickling built, so they can be taken apart without recursion.
///
/// Swift frees a value by releasing its children first, recursively: a tuple nested 100,000 deep
/// overflows the stack when it is freed (a 40 KB pickle did that). While the arena holds every
/// container, no container is freed by another's release, so `dismantle()` can empty them one at
/// a time; afterwards each container is freed with no children left. Cycles (a list appended to
/// itself) are broken the same way instead of leaking.
final class PickleArena {
    private var containers: [PickleItems] = []
    private var arrays: [PickleNDArray] = []

    func keep(_ c: PickleItems) -> PickleItems { containers.append(c); return c }
    func keep(_ a: PickleNDArray) -> PickleNDArray { arrays.append(a); return a }

    /// Empties every container, then lets them go.
    func dismantle() {
        for c in containers { c.items = [] }
        for a in arrays { a.objects = [] }
        containers = []
        arrays = []
    }
}
