#include "plot/raster.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "core/error.h"
#include "plot/bitmap_font.h"

namespace atrous {

Raster::Raster(int width, int height, Rgb background) : width_(width), height_(height) {
  ATROUS_CHECK(width >= 1 && height >= 1 && width <= 16384 && height <= 16384,
               "Raster: size must be within 1..16384 pixels, got ", width, "x", height);
  pixels_.resize(static_cast<size_t>(width) * height * 3);
  for (size_t i = 0; i < pixels_.size(); i += 3) std::memcpy(&pixels_[i], background.data(), 3);
}

Rgb Raster::at(int x, int y) const {
  ATROUS_CHECK(x >= 0 && y >= 0 && x < width_ && y < height_, "Raster::at: (", x, ", ", y, ") is outside ", width_, "x",
               height_);
  const size_t i = (static_cast<size_t>(y) * width_ + x) * 3;
  return {pixels_[i], pixels_[i + 1], pixels_[i + 2]};
}

void Raster::set(int x, int y, Rgb colour) {
  if (x < 0 || y < 0 || x >= width_ || y >= height_) return;
  std::memcpy(&pixels_[(static_cast<size_t>(y) * width_ + x) * 3], colour.data(), 3);
}

void Raster::fill_rect(int x0, int y0, int x1, int y1, Rgb colour) {
  x0 = std::max(x0, 0);
  y0 = std::max(y0, 0);
  x1 = std::min(x1, width_);
  y1 = std::min(y1, height_);
  for (int y = y0; y < y1; ++y)
    for (int x = x0; x < x1; ++x) set(x, y, colour);
}

void Raster::rect_outline(int x0, int y0, int x1, int y1, Rgb colour) {
  fill_rect(x0, y0, x1, y0 + 1, colour);
  fill_rect(x0, y1 - 1, x1, y1, colour);
  fill_rect(x0, y0, x0 + 1, y1, colour);
  fill_rect(x1 - 1, y0, x1, y1, colour);
}

void Raster::line(int x0, int y0, int x1, int y1, Rgb colour, int thickness) {
  // Endpoints far outside the surface would make Bresenham walk needlessly long; the plot never asks for that,
  // but a clamp keeps a bad caller from stalling.
  auto clamp = [](int v) { return std::clamp(v, -100000, 100000); };
  x0 = clamp(x0), y0 = clamp(y0), x1 = clamp(x1), y1 = clamp(y1);
  const int lo = -(thickness - 1) / 2, hi = thickness / 2;
  const int dx = std::abs(x1 - x0), dy = -std::abs(y1 - y0);
  const int sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1;
  int err = dx + dy;
  for (;;) {
    fill_rect(x0 + lo, y0 + lo, x0 + hi + 1, y0 + hi + 1, colour);
    if (x0 == x1 && y0 == y1) break;
    const int e2 = 2 * err;
    if (e2 >= dy) {
      err += dy;
      x0 += sx;
    }
    if (e2 <= dx) {
      err += dx;
      y0 += sy;
    }
  }
}

void Raster::text(int x, int y, const std::string& s, Rgb colour, int scale) {
  ATROUS_CHECK(scale >= 1, "Raster::text: scale must be >= 1, got ", scale);
  for (size_t i = 0; i < s.size(); ++i) {
    const auto& rows = glyph_rows(s[i]);
    const int gx = x + static_cast<int>(i) * kGlyphAdvance * scale;
    for (int r = 0; r < kGlyphHeight; ++r)
      for (int c = 0; c < kGlyphWidth; ++c)
        if (rows[r] & (1u << (kGlyphWidth - 1 - c)))
          fill_rect(gx + c * scale, y + r * scale, gx + (c + 1) * scale, y + (r + 1) * scale, colour);
  }
}

Tensor Raster::to_tensor() const {
  Tensor out = Tensor::empty({height_, width_, 3}, DType::u8);
  std::memcpy(out.data<uint8_t>(), pixels_.data(), pixels_.size());
  return out;
}

}  // namespace atrous
