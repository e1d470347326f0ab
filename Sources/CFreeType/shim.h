// FreeType 2: font loading and glyph rasterisation for chart text. Its headers are reached through
// macros (FT_FREETYPE_H), and its load flags are function-like macros Swift cannot import.
#include <ft2build.h>
#include FT_FREETYPE_H
static inline FT_Int32 cfreetype_load_render_light(void) { return FT_LOAD_RENDER | FT_LOAD_TARGET_LIGHT; }
static inline FT_GlyphSlot cfreetype_glyph(FT_Face face) { return face->glyph; }
static inline FT_Bool cfreetype_has_kerning(FT_Face face) { return FT_HAS_KERNING(face) ? 1 : 0; }
