import Foundation

/// Which HDU (header-data unit) of a FITS file to read, as written after the file name:
/// `image.fits[2]` (by number, 0 = the primary HDU), `image.fits[SCI]` or `image.fits[SCI,2]`
/// (by EXTNAME, and EXTVER). Without one, the first HDU that holds a 2-D or 3-D image is read.
public enum FITSHDUSelector: Sendable, Hashable, CustomStringConvertible {
    case number(Int)
    case name(String, version: Int?)

    /// Parses the text between the brackets; nil when it is empty.
    public init?(_ text: String) {
        let t = text.trimmingCharacters(in: .whitespaces)
        guard !t.isEmpty else { return nil }
        if let n = Int(t) {
            self = .number(n)
        } else if let comma = t.lastIndex(of: ","), let v = Int(t[t.index(after: comma)...].trimmingCharacters(in: .whitespaces)) {
            self = .name(String(t[..<comma]).trimmingCharacters(in: .whitespaces), version: v)
        } else {
            self = .name(t, version: nil)
        }
    }

    /// As written between the brackets.
    public var description: String {
        switch self {
        case .number(let n): return "\(n)"
        case .name(let s, let v): return v.map { "\(s),\($0)" } ?? s
        }
    }
}

/// FITS file names and the `file.fits[ext]` form of a command-line location.
public enum FITSLocation {
    /// The suffixes read as FITS, in any letter case: `.fits`, `.fit`, `.fts`, each optionally
    /// gzip-compressed (`.fits.gz`).
    public static let suffixes = [".fits", ".fit", ".fts"]

    /// True when `name` (bytes, as folders list them) ends in a FITS suffix.
    public static func isFITSName(_ name: [UInt8]) -> Bool {
        var lower = name.map { $0 >= 0x41 && $0 <= 0x5A ? $0 + 0x20 : $0 }
        if lower.count > 3 && Array(lower.suffix(3)) == Array(".gz".utf8) { lower.removeLast(3) }
        return suffixes.contains { s in lower.count > s.utf8.count && Array(lower.suffix(s.utf8.count)) == Array(s.utf8) }
    }

    /// Splits `file.fits[ext]` into the file and the HDU selector; `file.fits` gives a nil selector.
    /// Nil when the location does not name a FITS file.
    public static func parse(_ location: String) -> (file: String, hdu: FITSHDUSelector?)? {
        if isFITSName(Array(location.utf8)) { return (location, nil) }
        guard location.hasSuffix("]"), let open = location.lastIndex(of: "[") else { return nil }
        let file = String(location[..<open])
        guard isFITSName(Array(file.utf8)) else { return nil }
        let inside = String(location[location.index(after: open)..<location.index(before: location.endIndex)])
        return (file, FITSHDUSelector(inside))
    }
}
