// Image files: PNG (8-bit grey, grey+alpha, RGB, RGBA, palette; 16-bit colour reduced to 8 bits; 16-bit label maps
// keep their values, which must fit in u8) and JPEG via Debian's libpng and libjpeg-turbo. Images are u8 [H,W,3] RGB;
// label maps are u8 [H,W] holding the raw palette indices / grey values.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "core/tensor.h"

namespace atrous {

// Any PNG or JPEG (detected from the file's first bytes, not its name) as u8 [H,W,3] RGB.
Tensor read_image_rgb(const std::string& path);
// A single-channel label map: palette PNGs give their indices, grey PNGs their values. Colour images are an error.
Tensor read_label_png(const std::string& path);

// u8 [H,W,3] -> RGB PNG; u8 [H,W] -> grey PNG, or a palette PNG when a palette is given. Written atomically.
void write_png(const std::string& path, const Tensor& image);
void write_palette_png(const std::string& path, const Tensor& labels, const std::vector<std::array<uint8_t, 3>>& palette);
// u8 [H,W,3] RGB -> JPEG of the given quality (1..100).
void write_jpeg(const std::string& path, const Tensor& image, int quality = 95);

}  // namespace atrous
