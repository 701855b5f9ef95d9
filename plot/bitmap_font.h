// A 5x7 bitmap font for the printable ASCII characters (32..126), drawn by hand for our plots, so that writing a
// training-curve PNG needs no font library. Glyphs are 5 columns by 9 rows: 7 above the baseline and 2 for the
// descenders of g, j, p, q and y; one column of spacing between characters.
#pragma once
#include <array>
#include <cstdint>
#include <string>

namespace atrous {

constexpr int kGlyphWidth = 5;
constexpr int kGlyphHeight = 9;   // 7 rows above the baseline, 2 below
constexpr int kGlyphAdvance = 6;  // glyph plus one column of spacing

// Row bits of a glyph, top row first; bit 4 is the leftmost column. Characters outside 32..126 get '?'.
const std::array<uint8_t, kGlyphHeight>& glyph_rows(char c);
bool has_glyph(char c);

// Width and height in pixels of `text` drawn at an integer `scale`.
int text_width(const std::string& text, int scale = 1);
inline int text_height(int scale = 1) { return kGlyphHeight * scale; }

}  // namespace atrous
