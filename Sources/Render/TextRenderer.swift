import CFreeType
import Foundation

/// Draws text onto an `RGBImage` with FreeType: anti-aliased glyphs (light hinting) blended over
/// what is there, measured widths, left/centre/right alignment, and a 90° rotation for y-axis labels.
///
///     let text = try TextRenderer()                    // DejaVu Sans, loaded once
///     text.draw("loss", into: &image, x: 100, y: 20, size: 14, alignment: .center)
///
/// `y` is the top of the text's line box (ascender to descender, `lineHeight(size:)` pixels tall).
/// Glyphs are cached per (size, character). Not thread-safe (FreeType faces are not): give each
/// thread its own renderer.
public final class TextRenderer {
    /// DejaVu Sans as Debian's `fonts-dejavu-core` installs it.
    public static let defaultFontPath = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"

    public enum Alignment: Sendable { case left, center, right }

    private var library: FT_Library?
    private var face: FT_Face?
    private var currentSize = 0
    private var glyphs: [GlyphKey: Glyph] = [:]
    private var metrics: [Int: (ascender: Int, height: Int)] = [:]

    private struct GlyphKey: Hashable { var size: Int; var scalar: UInt32 }
    private struct Glyph {
        var width: Int, rows: Int, left: Int, top: Int
        /// Advance in 1/64 pixel.
        var advance: Int
        var index: UInt32
        /// `[rows, width]` coverage.
        var alpha: [UInt8]
    }

    /// Loads the font at `fontPath`; throws naming the file and the package that provides it.
    public init(fontPath: String = TextRenderer.defaultFontPath) throws {
        guard FileManager.default.fileExists(atPath: fontPath) else {
            throw RenderError("font file \(fontPath) not found: install the Debian package fonts-dejavu-core "
                              + "(scripts/install-deps.sh does), or pass another TrueType font")
        }
        guard FT_Init_FreeType(&library) == 0, let library else { throw RenderError("FreeType failed to initialise") }
        guard FT_New_Face(library, fontPath, 0, &face) == 0, face != nil else {
            FT_Done_FreeType(library)
            self.library = nil
            throw RenderError("FreeType cannot read the font file \(fontPath)")
        }
    }

    deinit {
        if let face { FT_Done_Face(face) }
        if let library { FT_Done_FreeType(library) }
    }

    /// Height of a line box (ascender − descender) at `size` pixels per em.
    public func lineHeight(size: Int) -> Int { sizeMetrics(size).height }

    /// Width in pixels of `text` drawn at `size` (advances and kerning; the last glyph's advance).
    public func width(_ text: String, size: Int) -> Int { layout(text, size: size).width }

    /// Draws `text` with the top of its line box at `y`.
    /// - Parameters:
    ///   - x: the left edge, centre or right edge of the text, following `alignment`.
    ///   - rotated: draw reading bottom to top (90° counter-clockwise), as y-axis labels are. Then `x`
    ///     is the left edge of the rotated line box and `y` is the text's bottom end, centre or top
    ///     end for `.left`, `.center` or `.right`.
    public func draw(_ text: String, into image: inout RGBImage, x: Int, y: Int, size: Int, colour: RGB = .ink,
                     alignment: Alignment = .left, rotated: Bool = false) {
        let (width, placed) = layout(text, size: size)
        let ascender = sizeMetrics(size).ascender
        let shift: Int
        switch alignment {
        case .left: shift = 0
        case .center: shift = width / 2
        case .right: shift = width
        }
        for (pen, glyph) in placed {
            for gy in 0..<glyph.rows {
                for gx in 0..<glyph.width {
                    let a = glyph.alpha[gy * glyph.width + gx]
                    if a == 0 { continue }
                    // Position in the unrotated line box: u along the text, v down from its top.
                    let u = pen + glyph.left + gx - shift, v = ascender - glyph.top + gy
                    if rotated {
                        image.blend(x: x + v, y: y - u - 1, colour, alpha: Float(a) / 255)
                    } else {
                        image.blend(x: x + u, y: y + v, colour, alpha: Float(a) / 255)
                    }
                }
            }
        }
    }

    /// Glyphs of `text` with their pen positions (whole pixels), and the total advance.
    private func layout(_ text: String, size: Int) -> (width: Int, placed: [(Int, Glyph)]) {
        var pen = 0  // 1/64 pixel
        var previous: UInt32?
        var placed: [(Int, Glyph)] = []
        let kerning = face.map { cfreetype_has_kerning($0) != 0 } ?? false
        for scalar in text.unicodeScalars {
            guard let g = glyph(scalar.value, size: size) else { continue }
            if kerning, let previous, let face {
                var delta = FT_Vector()
                if FT_Get_Kerning(face, previous, g.index, FT_KERNING_DEFAULT.rawValue, &delta) == 0 { pen += Int(delta.x) }
            }
            placed.append(((pen + 32) >> 6, g))
            pen += g.advance
            previous = g.index
        }
        return ((pen + 32) >> 6, placed)
    }

    private func setSize(_ size: Int) {
        guard size != currentSize, let face else { return }
        FT_Set_Pixel_Sizes(face, 0, FT_UInt(size))
        currentSize = size
    }

    private func sizeMetrics(_ size: Int) -> (ascender: Int, height: Int) {
        if let m = metrics[size] { return m }
        setSize(size)
        guard let face, let sz = face.pointee.size else { return (size, size) }
        let asc = Int((sz.pointee.metrics.ascender + 63) >> 6), desc = Int(sz.pointee.metrics.descender >> 6)
        let m = (asc, asc - desc)
        metrics[size] = m
        return m
    }

    private func glyph(_ scalar: UInt32, size: Int) -> Glyph? {
        let key = GlyphKey(size: size, scalar: scalar)
        if let g = glyphs[key] { return g }
        setSize(size)
        guard let face, FT_Load_Char(face, FT_ULong(scalar), cfreetype_load_render_light()) == 0 else { return nil }
        let slot = cfreetype_glyph(face)!.pointee
        let bm = slot.bitmap
        let w = Int(bm.width), rows = Int(bm.rows), pitch = Int(bm.pitch)
        var alpha = [UInt8](repeating: 0, count: w * rows)
        if let buffer = bm.buffer, w > 0 {
            for r in 0..<rows {
                // A negative pitch means rows are stored bottom-up from the end of the buffer.
                let row = pitch >= 0 ? buffer + r * pitch : buffer + (rows - 1 - r) * (-pitch)
                for c in 0..<w { alpha[r * w + c] = row[c] }
            }
        }
        let g = Glyph(width: w, rows: rows, left: Int(slot.bitmap_left), top: Int(slot.bitmap_top),
                      advance: Int(slot.advance.x), index: FT_Get_Char_Index(face, FT_ULong(scalar)), alpha: alpha)
        glyphs[key] = g
        return g
    }
}

/// A chart or text failure, with what to do about it.
public struct RenderError: Error, CustomStringConvertible {
    public var description: String
    public init(_ description: String) { self.description = description }
}
