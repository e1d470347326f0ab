import CHDF5

/// libhdf5's error reporting, made lenspipe's: the library's own printing is off on every thread that
/// calls it, and a failure's message carries the innermost entry of libhdf5's error stack.
enum HDF5Errors {
    /// Call before a group of libhdf5 calls on the current thread: silences the automatic printing
    /// (a per-thread setting in the thread-safe library) and empties the thread's error stack, so
    /// a later `error` reports this group's failure only.
    static func begin() {
        chdf5_silence_errors()
        chdf5_clear_errors()
    }

    /// The innermost libhdf5 error on this thread's stack (`H5Dread: addr overflow ... (address
    /// overflow)`), or nil when the stack is empty.
    static func innermost() -> String? {
        var buffer = [CChar](repeating: 0, count: 512)
        let n = chdf5_innermost_error(&buffer, buffer.count)
        guard n > 0 else { return nil }
        let text = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return text.isEmpty ? nil : text
    }

    /// A `LensDataError` for `path` whose message ends with libhdf5's innermost error, when it has one.
    static func error(_ path: String, _ message: String) -> LensDataError {
        defer { chdf5_clear_errors() }
        guard let detail = innermost() else { return LensDataError(path: path, message) }
        return LensDataError(path: path, "\(message) (libhdf5: \(detail))")
    }
}
