import Foundation
import LensData

/// Generators for the hostile files of issue 12 (no fixtures needed): pickles that nest deep, memo
/// chains, self-referencing lists. Each returns the bytes of an `.npy` object-array file.
///
/// Pickle opcodes used: `\x80 n` PROTO, `N` NONE, `\x85` TUPLE1, `\x86` TUPLE2, `(` MARK, `t` TUPLE,
/// `l` LIST, `]` EMPTY_LIST, `a` APPEND, `e` APPENDS, `\x94` MEMOIZE, `r`/`j` LONG_BINPUT/LONG_BINGET,
/// `0` POP, `\x8c` SHORT_BINUNICODE, `\x93` STACK_GLOBAL, `C` SHORT_BINBYTES, `R` REDUCE, `.` STOP.
public enum HostileFiles {
    /// The NPY header of a 1-D object array, then `pickle`.
    public static func objectArrayFile(_ pickle: [UInt8]) -> [UInt8] {
        NPYHeader(dtype: NPYDType(kind: .object, itemSize: 8), shape: [1]).encoded() + pickle
    }

    /// `None` wrapped in `n` one-tuples: `((((None,),),),)`.
    public static func deepTuple(_ n: Int) -> [UInt8] {
        objectArrayFile([0x80, 4, 0x4E] + [UInt8](repeating: 0x85, count: n) + [0x2E])
    }

    /// `[[[...[None]...]]]` n deep, built with n MARKs and n LISTs.
    public static func deepListByMark(_ n: Int) -> [UInt8] {
        objectArrayFile([0x80, 4] + [UInt8](repeating: 0x28, count: n) + [0x4E] + [UInt8](repeating: 0x6C, count: n) + [0x2E])
    }

    /// n empty lists on the stack, then n-1 APPENDs nest each into the one below.
    public static func deepListByAppend(_ n: Int) -> [UInt8] {
        objectArrayFile([0x80, 4] + [UInt8](repeating: 0x5D, count: n) + [UInt8](repeating: 0x61, count: n - 1) + [0x2E])
    }

    /// Lists `L0 = [L1]`, `L1 = [L2]`, ... n deep, each fetched back from the memo and appended to
    /// while the new child is still empty, so every list's own depth record says 2.
    public static func memoChain(_ n: Int) -> [UInt8] {
        var p: [UInt8] = [0x80, 4, 0x5D] + put(0)
        for k in 0..<n { p += get(k) + [0x5D] + put(k + 1) + [0x61, 0x30] }
        return objectArrayFile(p + [0x2E])
    }

    /// `None`, then n times (MEMOIZE, TUPLE1): a 300k-entry memo of ever deeper tuples.
    public static func memoTupleChain(_ n: Int) -> [UInt8] {
        var p: [UInt8] = [0x80, 4, 0x4E]
        for _ in 0..<n { p += [0x94, 0x85] }
        return objectArrayFile(p + [0x94, 0x2E])
    }

    /// A list that holds itself `copies` times.
    public static func selfReferencingList(copies: Int) -> [UInt8] {
        var p: [UInt8] = [0x80, 4, 0x5D, 0x94, 0x28]
        for _ in 0..<copies { p += get(0) }
        return objectArrayFile(p + [0x65, 0x2E])
    }

    /// `(image, deep)`: a 2x2 float64 image [0, 1, 2, 3] next to `None` wrapped in `depth - 1`
    /// one-tuples, so the whole value nests exactly `depth` levels.
    public static func nestedImage(depth: Int) -> [UInt8] {
        func unicode(_ s: String) -> [UInt8] { [0x8C, UInt8(s.utf8.count)] + Array(s.utf8) }
        var p: [UInt8] = [0x80, 4]
        p += unicode("numpy.core.numeric") + unicode("_frombuffer") + [0x93, 0x28]  // callable, MARK
        p += [0x43, 32] + NPYWriter.littleEndianBytes((0..<4).map { Double($0).bitPattern })  // bytes
        p += unicode("numpy") + unicode("dtype") + [0x93] + unicode("f8") + [0x85, 0x52]  // dtype('f8')
        p += [0x4B, 2, 0x4B, 2, 0x86] + unicode("C") + [0x74, 0x52]  // (2, 2), 'C', TUPLE, REDUCE
        p += [0x4E] + [UInt8](repeating: 0x85, count: depth - 1) + [0x86, 0x2E]
        return objectArrayFile(p)
    }

    /// Writes `bytes` to `dir/name` and returns the path.
    @discardableResult
    public static func write(_ bytes: [UInt8], in dir: String, name: String) -> String {
        let path = dir + "/" + name
        _ = FileManager.default.createFile(atPath: path, contents: Data(bytes))
        return path
    }

    private static func put(_ k: Int) -> [UInt8] { [0x72] + le32(k) }
    private static func get(_ k: Int) -> [UInt8] { [0x6A] + le32(k) }
    private static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }
}
