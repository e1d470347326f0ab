import Cropping
import LensData
import RealModule

/// The astronomer's display stretch: `asinh((x - sky) / (softening * sigma))`, scaled so the image
/// maximum maps to 1. Faint arcs stay visible next to bright cores, and sky noise stays dark.
public struct AsinhStretch: Sendable {
    public var sky: Float
    public var scale: Float
    public var top: Float

    /// Fits the stretch to one image from its robust background (`BackgroundEstimate`).
    public init(image: LensImage, softening: Float = 1) {
        let plane = image.channelSum()
        let bg = BackgroundEstimate(pixels: plane)
        let hi = plane.filter(\.isFinite).max() ?? bg.level
        sky = bg.level / Float(image.channels)
        let range = Swift.max(hi / Float(image.channels) - sky, 1e-12)
        scale = bg.sigma > 0 ? softening * bg.sigma / Float(image.channels) : range / 10
        top = Float.asinh(range / scale)
        if !(top > 0) { top = 1 }
    }

    /// Maps a pixel to [0, 1].
    @inlinable public func callAsFunction(_ v: Float) -> Float {
        guard v.isFinite else { return 0 }
        return Swift.min(Swift.max(Float.asinh((v - sky) / scale) / top, 0), 1)
    }
}
