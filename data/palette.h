// Colour palettes for label maps and overlays: PASCAL VOC (21 classes), CamVid (11 + void), Cityscapes (19 train ids),
// with class names, looked up by name.
#pragma once
#include <array>
#include <string>
#include <vector>

#include "core/named_registry.h"
#include "core/tensor.h"

namespace atrous {

struct Palette {
  std::string name;
  std::vector<std::string> class_names;
  std::vector<std::array<uint8_t, 3>> colours;  // index = class id
};

// "voc", "camvid", "cityscapes".
const NamedRegistry<Palette>& palettes();
// Unknown names are an error listing the known ones.
const Palette& palette_by_name(const std::string& name);
// labels (integer [H,W]) -> u8 [H,W,3] colours; ids beyond the palette (e.g. ignore 255) are black.
Tensor colourise(const Tensor& labels, const Palette& palette);
// image u8 [H,W,3] blended with the colourised labels: (1-alpha) image + alpha colour.
Tensor overlay(const Tensor& image, const Tensor& labels, const Palette& palette, double alpha = 0.5);

}  // namespace atrous
