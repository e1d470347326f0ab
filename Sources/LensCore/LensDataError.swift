/// Every way reading a data set can fail, each naming the file and what was expected.
public struct LensDataError: Error, CustomStringConvertible, Sendable, Equatable {
    /// The file (or `file.h5:/dataset`) the problem is in.
    public var path: String
    /// A byte offset into the file, where one is meaningful.
    public var offset: Int?
    /// What is wrong, and what was expected instead.
    public var message: String

    public init(path: String, offset: Int? = nil, _ message: String) {
        self.path = path
        self.offset = offset
        self.message = message
    }

    public var description: String {
        if let offset { return "\(path): at byte \(offset): \(message)" }
        return "\(path): \(message)"
    }
}
