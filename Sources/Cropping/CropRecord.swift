/// What the cropper did to one image, kept with the sample (and later in the shard's `crop` column).
public struct CropRecord: Sendable, Equatable, Codable {
    /// The window in source pixels, `[x0, y0, x1, y1)`; may extend past the image when padding.
    public var box: PixelBox
    /// Output pixels per source pixel (1 for `fixed`, `center` and `none`).
    public var zoom: Float
    public var background: Float
    public var sigma: Float
    /// Share of all pixels that are foreground.
    public var foregroundFraction: Float
    /// Share of the foreground flux that falls inside the window (1 when there is no foreground).
    public var keptFluxShare: Float
    public var centroidX: Float
    public var centroidY: Float
    public var flags: Flags

    public struct Flags: OptionSet, Sendable, Equatable, Codable {
        public let rawValue: Int
        public init(rawValue: Int) { self.rawValue = rawValue }
        /// No foreground found: the window was placed at the image centre.
        public static let emptyForeground = Flags(rawValue: 1)
        /// The window wanted to extend past the border and was shifted inside.
        public static let clippedAtBorder = Flags(rawValue: 2)
        /// The image was smaller than the window and was padded with the background level.
        public static let padded = Flags(rawValue: 4)
        /// NaN or infinite pixels were replaced by the background level.
        public static let nonfinitePixels = Flags(rawValue: 8)

        public var names: [String] {
            [(Self.emptyForeground, "empty_foreground"), (.clippedAtBorder, "clipped_at_border"), (.padded, "padded"),
             (.nonfinitePixels, "nonfinite_pixels")].filter { contains($0.0) }.map(\.1)
        }
    }
}
