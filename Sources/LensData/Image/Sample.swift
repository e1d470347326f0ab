/// One item of a data set, whatever it was read from.
public struct Sample: Sendable {
    /// Where the image came from: a path relative to the source root, `stack.npy[17]`, or
    /// `file.h5:/train/images[17]`.
    public var id: String
    public var image: LensImage
    /// Class index (class folders sorted by name -> 0..K-1, or a labels array); nil when unknown.
    public var label: Int?
    /// A regression target (e.g. the axion mass in eV); nil when absent.
    public var target: Double?
    /// What was on disk: numpy-style dtype name (`"int64"`) and the stored shape.
    public var stored: StoredArrayInfo
    /// `[H, W]`, true on the lens: the foreground `preprocess` detected on the raw image before
    /// normalisation and stored beside it (the shards' `foreground` column); nil when the source has none.
    public var foreground: [Bool]?
    /// Non-numeric items that stood where a target would (a string or None mass in an object array).
    public var droppedTargets = 0

    public init(id: String, image: LensImage, label: Int?, target: Double?, stored: StoredArrayInfo, foreground: [Bool]? = nil) {
        self.id = id
        self.image = image
        self.label = label
        self.target = target
        self.stored = stored
        self.foreground = foreground
    }
}

/// The on-disk description of an image before conversion to `Float32`.
public struct StoredArrayInfo: Sendable, Hashable {
    /// numpy's name for the element type: `"int64"`, `"float32"`, `"bool"`, ...
    public var dtype: String
    /// The shape as stored (e.g. `[150, 150]`, or `[2]` for an object array `[image, mass]`).
    public var shape: [Int]
    /// True when the payload came out of a pickled object array.
    public var fromObjectArray: Bool

    public init(dtype: String, shape: [Int], fromObjectArray: Bool = false) {
        self.dtype = dtype
        self.shape = shape
        self.fromObjectArray = fromObjectArray
    }
}
