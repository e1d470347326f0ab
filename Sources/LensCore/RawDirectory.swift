#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Folder listing by raw name bytes. Linux file names are bytes, not text: Foundation decodes them
/// as UTF-8 with repair, so a file whose name is not UTF-8 came back under a name that does not
/// exist ("No such file"). Names here keep their bytes for opening and a display form for ids.
public struct RawName: Sendable, Hashable {
    /// The name as stored.
    public var bytes: [UInt8]

    /// The name as text: UTF-8 as is; each byte that is not part of valid UTF-8 written `\xNN`.
    public var display: String { RawName.display(bytes) }

    public static func display(_ bytes: [UInt8]) -> String {
        if let s = String(validating: bytes, as: UTF8.self) { return s }
        var out = ""
        var i = 0
        var parser = Unicode.UTF8.ForwardParser()
        var iterator = bytes.makeIterator()
        while true {
            switch parser.parseScalar(from: &iterator) {
            case .valid(let encoded):
                out.unicodeScalars.append(Unicode.UTF8.decode(encoded))
                i += encoded.count
            case .error(let length):
                for b in bytes[i..<(i + length)] { out += "\\x" + String(b, radix: 16, uppercase: false).leftPadded(2) }
                i += length
            case .emptyInput:
                return out
            }
        }
    }
}

public enum RawDirectory {
    /// The entries of `dir` (raw path bytes), without `.` and `..`, sorted by their bytes (as
    /// Python sorts names).
    public static func list(_ dir: [UInt8], display: String) throws -> [RawName] {
        guard let handle = opendir(cPath(dir)) else {
            throw LensDataError(path: display, "cannot list folder: \(String(cString: strerror(errno)))")
        }
        defer { closedir(handle) }
        var names: [RawName] = []
        while let entry = readdir(handle) {
            let bytes = withUnsafePointer(to: &entry.pointee.d_name) { p in
                p.withMemoryRebound(to: UInt8.self, capacity: 256) { Array(UnsafeBufferPointer(start: $0, count: strlen(UnsafeRawPointer($0).assumingMemoryBound(to: CChar.self)))) }
            }
            if bytes == [0x2E] || bytes == [0x2E, 0x2E] { continue }
            names.append(RawName(bytes: bytes))
        }
        return names.sorted { $0.bytes.lexicographicallyPrecedes($1.bytes) }
    }

    /// True when the raw path names a folder (after symlinks).
    public static func isDirectory(_ path: [UInt8]) -> Bool {
        var st = stat()
        return stat(cPath(path), &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// True when the raw path names a regular file (after symlinks).
    public static func isFile(_ path: [UInt8]) -> Bool {
        var st = stat()
        return stat(cPath(path), &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG
    }

    /// NUL-terminated path bytes for libc.
    public static func cPath(_ path: [UInt8]) -> [CChar] { path.map { CChar(bitPattern: $0) } + [0] }
}

extension String {
    fileprivate func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
