/// An sRGB colour and the chart palette (matplotlib's "tab10", readable on white and for most
/// colour-vision deficiencies in its first few entries).
public struct RGB: Sendable, Equatable, Hashable {
    public var r: UInt8, g: UInt8, b: UInt8
    public init(_ r: UInt8, _ g: UInt8, _ b: UInt8) { self.r = r; self.g = g; self.b = b }

    public static let white = RGB(255, 255, 255)
    /// Text and axes.
    public static let ink = RGB(34, 34, 34)
    public static let grid = RGB(229, 229, 229)
    public static let muted = RGB(120, 120, 120)
    public static let palette: [RGB] = [
        RGB(31, 119, 180), RGB(255, 127, 14), RGB(44, 160, 44), RGB(214, 39, 40), RGB(148, 103, 189),
        RGB(140, 86, 75), RGB(227, 119, 194), RGB(127, 127, 127), RGB(188, 189, 34), RGB(23, 190, 207),
    ]
    /// The `i`-th palette colour (cycling).
    public static func series(_ i: Int) -> RGB { palette[i % palette.count] }

    /// Linear interpolation `a + t (b − a)`, `t` in [0, 1].
    static func mix(_ a: RGB, _ b: RGB, _ t: Double) -> RGB {
        let t = min(max(t, 0), 1)
        func m(_ x: UInt8, _ y: UInt8) -> UInt8 { UInt8((Double(x) + t * (Double(y) - Double(x))).rounded()) }
        return RGB(m(a.r, b.r), m(a.g, b.g), m(a.b, b.b))
    }
}

/// A rectangle of pixels: `x ..< x + width`, `y ..< y + height`.
struct PixelRect: Sendable, Equatable {
    var x: Int, y: Int, width: Int, height: Int
    var maxX: Int { x + width }
    var maxY: Int { y + height }
    func contains(_ px: Double, _ py: Double) -> Bool { px >= Double(x) && px < Double(maxX) && py >= Double(y) && py < Double(maxY) }
}

/// Drawing primitives for charts: alpha blending, rectangles, anti-aliased thick lines and dots.
extension RGBImage {
    /// `pixel ← (1 − alpha) · pixel + alpha · colour`, ignoring pixels outside the image.
    mutating func blend(x: Int, y: Int, _ c: RGB, alpha: Float) {
        guard x >= 0, y >= 0, x < width, y < height, alpha > 0 else { return }
        let i = 3 * (y * width + x), a = min(alpha, 1)
        func mix(_ old: UInt8, _ new: UInt8) -> UInt8 { UInt8((Float(old) + a * (Float(new) - Float(old))).rounded()) }
        bytes[i] = mix(bytes[i], c.r); bytes[i + 1] = mix(bytes[i + 1], c.g); bytes[i + 2] = mix(bytes[i + 2], c.b)
    }

    mutating func fill(_ r: PixelRect, _ c: RGB) {
        for y in max(0, r.y)..<min(height, r.maxY) { for x in max(0, r.x)..<min(width, r.maxX) { set(x: x, y: y, (c.r, c.g, c.b)) } }
    }

    /// A one-pixel outline just inside `r`.
    mutating func stroke(_ r: PixelRect, _ c: RGB) {
        for x in r.x..<r.maxX { set(x: x, y: r.y, (c.r, c.g, c.b)); set(x: x, y: r.maxY - 1, (c.r, c.g, c.b)) }
        for y in r.y..<r.maxY { set(x: r.x, y: y, (c.r, c.g, c.b)); set(x: r.maxX - 1, y: y, (c.r, c.g, c.b)) }
    }

    /// An anti-aliased segment of `width` pixels with round caps, in continuous pixel coordinates
    /// (pixel (i, j) covers `[i, i+1) × [j, j+1)`), drawn only inside `clip`.
    mutating func line(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width w: Double, _ c: RGB,
                       alpha: Float = 1, clip: PixelRect? = nil) {
        let half = w / 2
        let bx0 = Int((min(x0, x1) - half - 1).rounded(.down)), bx1 = Int((max(x0, x1) + half + 1).rounded(.up))
        let by0 = Int((min(y0, y1) - half - 1).rounded(.down)), by1 = Int((max(y0, y1) + half + 1).rounded(.up))
        let clip = clip ?? PixelRect(x: 0, y: 0, width: width, height: height)
        let dx = x1 - x0, dy = y1 - y0, len2 = dx * dx + dy * dy
        guard bx1 >= clip.x, by1 >= clip.y, bx0 < clip.maxX, by0 < clip.maxY else { return }
        for py in max(by0, clip.y)..<min(by1, clip.maxY) {
            for px in max(bx0, clip.x)..<min(bx1, clip.maxX) {
                let cx = Double(px) + 0.5, cy = Double(py) + 0.5
                let t = len2 > 0 ? min(max(((cx - x0) * dx + (cy - y0) * dy) / len2, 0), 1) : 0
                let ex = cx - (x0 + t * dx), ey = cy - (y0 + t * dy)
                let coverage = min(max(half + 0.5 - (ex * ex + ey * ey).squareRoot(), 0), 1)
                if coverage > 0 { blend(x: px, y: py, c, alpha: alpha * Float(coverage)) }
            }
        }
    }

    /// A dashed segment: `on` pixels drawn, `off` pixels skipped, repeating from (x0, y0).
    mutating func dashedLine(_ x0: Double, _ y0: Double, _ x1: Double, _ y1: Double, width w: Double, _ c: RGB,
                             on: Double = 6, off: Double = 4, clip: PixelRect? = nil) {
        let len = ((x1 - x0) * (x1 - x0) + (y1 - y0) * (y1 - y0)).squareRoot()
        guard len > 0 else { return }
        var s = 0.0
        while s < len {
            let e = min(s + on, len)
            line(x0 + (x1 - x0) * s / len, y0 + (y1 - y0) * s / len, x0 + (x1 - x0) * e / len, y0 + (y1 - y0) * e / len,
                 width: w, c, clip: clip)
            s += on + off
        }
    }

    /// An anti-aliased filled disc.
    mutating func dot(_ cx: Double, _ cy: Double, radius: Double, _ c: RGB, alpha: Float = 1, clip: PixelRect? = nil) {
        line(cx, cy, cx, cy, width: 2 * radius, c, alpha: alpha, clip: clip)
    }
}
