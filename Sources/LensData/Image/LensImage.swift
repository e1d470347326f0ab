/// A lensing image: `Float32` pixels in planar `[C, H, W]` order.
///
/// C is 1 for nearly all lensing data; multi-band stamps (g, r, i) have C = 3. Pixel `(c, y, x)`
/// lives at `pixels[(c * height + y) * width + x]`. The type is a plain value: copying it copies the
/// pixels (copy-on-write), so it is safe to hand between threads.
public struct LensImage: Sendable, Equatable {
    public var channels: Int
    public var height: Int
    public var width: Int
    /// `[C, H, W]`, row-major.
    public var pixels: [Float]

    public init(channels: Int, height: Int, width: Int, pixels: [Float]) {
        precondition(channels > 0 && height > 0 && width > 0, "image dimensions must be positive")
        precondition(pixels.count == channels * height * width, "pixel count does not match [C, H, W]")
        self.channels = channels
        self.height = height
        self.width = width
        self.pixels = pixels
    }

    /// A `[C, H, W]` image filled with `value`.
    public init(channels: Int = 1, height: Int, width: Int, repeating value: Float = 0) {
        self.init(channels: channels, height: height, width: width,
                  pixels: [Float](repeating: value, count: channels * height * width))
    }

    /// `[C, H, W]` as an array, the order lenspipe reports shapes in.
    public var shape: [Int] { [channels, height, width] }

    /// Pixel `(c, y, x)`.
    @inlinable public subscript(c: Int, y: Int, x: Int) -> Float {
        get { pixels[(c * height + y) * width + x] }
        set { pixels[(c * height + y) * width + x] = newValue }
    }

    /// The sum over channels, `[H, W]`: what foreground detection looks at for C > 1.
    public func channelSum() -> [Float] {
        if channels == 1 { return pixels }
        let plane = height * width
        var out = [Float](repeating: 0, count: plane)
        pixels.withUnsafeBufferPointer { src in
            out.withUnsafeMutableBufferPointer { dst in
                for c in 0..<channels {
                    let base = c * plane
                    for i in 0..<plane { dst[i] += src[base + i] }
                }
            }
        }
        return out
    }
}
