// A small RGB drawing surface for our plots: filled rectangles, lines of a given thickness (Bresenham), and text in
// the built-in bitmap font. Everything is clipped to the surface, so callers may draw partly outside it.
#pragma once
#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace atrous {

using Rgb = std::array<uint8_t, 3>;

class Raster {
 public:
  Raster(int width, int height, Rgb background);

  int width() const { return width_; }
  int height() const { return height_; }
  Rgb at(int x, int y) const;          // an error outside the surface
  void set(int x, int y, Rgb colour);  // ignored outside the surface
  // Pixels x0 <= x < x1, y0 <= y < y1.
  void fill_rect(int x0, int y0, int x1, int y1, Rgb colour);
  void rect_outline(int x0, int y0, int x1, int y1, Rgb colour);
  // A line between pixel centres, `thickness` pixels wide (a square brush).
  void line(int x0, int y0, int x1, int y1, Rgb colour, int thickness = 1);
  // Text with its top-left corner at (x, y), glyphs `scale` pixels per font pixel.
  void text(int x, int y, const std::string& text, Rgb colour, int scale = 1);

  Tensor to_tensor() const;  // u8 [height, width, 3]

 private:
  int width_, height_;
  std::vector<uint8_t> pixels_;
};

}  // namespace atrous
