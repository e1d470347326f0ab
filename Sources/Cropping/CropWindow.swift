/// Choosing the window for each policy.
enum CropWindow {
    /// A `size`-wide window starting near `center - size/2`, shifted to lie inside `[0, extent)` when it
    /// fits; centred (and so extending past both edges) when the image is smaller than the window.
    static func place(center: Float, size: Int, extent: Int) -> (start: Int, shifted: Bool, padded: Bool) {
        let c = center.isFinite ? min(max(center, -1), Float(extent)) : Float(extent - 1) / 2
        let ideal = Int((c - Float(size - 1) / 2).rounded())
        if size >= extent {
            return ((extent - size) / 2 - ((extent - size) % 2 != 0 && extent < size ? 1 : 0), false, size > extent)
        }
        let start = min(max(ideal, 0), extent - size)
        return (start, start != ideal, false)
    }

    /// The square `bbox` window: the foreground box grown by `margin` on each side, at least 4 px.
    static func square(around box: PixelBox, margin: Float) -> (cx: Float, cy: Float, side: Int) {
        let side = Float(max(box.width, box.height)) * (1 + 2 * margin)
        return (Float(box.x0 + box.x1) / 2 - 0.5, Float(box.y0 + box.y1) / 2 - 0.5, max(4, Int(side.rounded(.up))))
    }
}

/// Resampling a window of a plane to `size` x `size`: area averaging when shrinking, bilinear when
/// growing, the background level outside the image.
enum Resample {
    /// - Parameters:
    ///   - plane: `[H, W]` source pixels.
    ///   - x0, y0, side: the source window (may extend past the image).
    static func window(_ plane: UnsafeBufferPointer<Float>, width: Int, height: Int, x0: Int, y0: Int, side: Int,
                       size: Int, fill: Float, into out: UnsafeMutableBufferPointer<Float>) {
        @inline(__always) func px(_ x: Int, _ y: Int) -> Float {
            (x >= 0 && y >= 0 && x < width && y < height) ? plane[y * width + x] : fill
        }
        if side == size {
            for y in 0..<size { for x in 0..<size { out[y * size + x] = px(x0 + x, y0 + y) } }
            return
        }
        let scale = Float(side) / Float(size)  // source pixels per output pixel
        if scale > 1 {
            // Area averaging: each output pixel covers [a, b) in source pixels; partial pixels weighted.
            for oy in 0..<size {
                let ya = Float(oy) * scale, yb = ya + scale
                for ox in 0..<size {
                    let xa = Float(ox) * scale, xb = xa + scale
                    var sum: Float = 0, weight: Float = 0
                    var sy = Int(ya.rounded(.down))
                    while Float(sy) < yb {
                        let wy = min(yb, Float(sy + 1)) - max(ya, Float(sy))
                        var sx = Int(xa.rounded(.down))
                        while Float(sx) < xb {
                            let w = wy * (min(xb, Float(sx + 1)) - max(xa, Float(sx)))
                            sum += w * px(x0 + sx, y0 + sy)
                            weight += w
                            sx += 1
                        }
                        sy += 1
                    }
                    out[oy * size + ox] = sum / weight
                }
            }
        } else {
            // Bilinear, pixel centres aligned (align_corners = False).
            for oy in 0..<size {
                let fy = (Float(oy) + 0.5) * scale - 0.5
                let y = Int(fy.rounded(.down)), ty = fy - Float(y)
                for ox in 0..<size {
                    let fx = (Float(ox) + 0.5) * scale - 0.5
                    let x = Int(fx.rounded(.down)), tx = fx - Float(x)
                    let a = px(x0 + x, y0 + y), b = px(x0 + x + 1, y0 + y)
                    let c = px(x0 + x, y0 + y + 1), d = px(x0 + x + 1, y0 + y + 1)
                    out[oy * size + ox] = (a * (1 - tx) + b * tx) * (1 - ty) + (c * (1 - tx) + d * tx) * ty
                }
            }
        }
    }
}
