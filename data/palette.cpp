#include "data/palette.h"

namespace atrous {
namespace {

// The VOC devkit's colour map: the bits of the class id are spread over the high bits of R, G and B.
std::vector<std::array<uint8_t, 3>> voc_colours(int count) {
  std::vector<std::array<uint8_t, 3>> out;
  for (int id = 0; id < count; ++id) {
    int r = 0, g = 0, b = 0, c = id;
    for (int bit = 7; bit >= 0; --bit, c >>= 3) {
      r |= ((c >> 0) & 1) << bit;
      g |= ((c >> 1) & 1) << bit;
      b |= ((c >> 2) & 1) << bit;
    }
    out.push_back({static_cast<uint8_t>(r), static_cast<uint8_t>(g), static_cast<uint8_t>(b)});
  }
  return out;
}

std::vector<Palette> make_palettes() {
  std::vector<Palette> all;
  all.push_back({"voc",
                 {"background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
                  "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
                  "tvmonitor"},
                 voc_colours(21)});
  all.push_back({"camvid",
                 {"sky", "building", "pole", "road", "pavement", "tree", "signsymbol", "fence", "car", "pedestrian",
                  "bicyclist", "void"},
                 {{128, 128, 128}, {128, 0, 0}, {192, 192, 128}, {128, 64, 128}, {60, 40, 222}, {128, 128, 0},
                  {192, 128, 128}, {64, 64, 128}, {64, 0, 128}, {64, 64, 0}, {0, 128, 192}, {0, 0, 0}}});
  all.push_back({"cityscapes",
                 {"road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
                  "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
                  "bicycle"},
                 {{128, 64, 128}, {244, 35, 232}, {70, 70, 70}, {102, 102, 156}, {190, 153, 153}, {153, 153, 153},
                  {250, 170, 30}, {220, 220, 0}, {107, 142, 35}, {152, 251, 152}, {70, 130, 180}, {220, 20, 60},
                  {255, 0, 0}, {0, 0, 142}, {0, 0, 70}, {0, 60, 100}, {0, 80, 100}, {0, 0, 230}, {119, 11, 32}}});
  // VOC has a boundary/void colour for the ignore label 255.
  all[0].colours.resize(256, {0, 0, 0});
  all[0].colours[255] = {224, 224, 192};
  return all;
}

}  // namespace

const NamedRegistry<Palette>& palettes() {
  static const NamedRegistry<Palette> registry("palette", make_palettes());
  return registry;
}

const Palette& palette_by_name(const std::string& name) { return palettes().get(name); }

Tensor colourise(const Tensor& labels_in, const Palette& palette) {
  ATROUS_CHECK(labels_in.defined() && labels_in.dim() == 2 && !is_floating(labels_in.dtype()),
               "colourise: expected an integer label map [H,W], got ", labels_in.description());
  const Tensor labels = labels_in.to(DType::i32).contiguous();
  Tensor out = Tensor::zeros({labels.size(0), labels.size(1), 3}, DType::u8);
  const int32_t* l = labels.data<int32_t>();
  uint8_t* o = out.data<uint8_t>();
  for (int64_t i = 0; i < labels.numel(); ++i) {
    if (l[i] < 0 || l[i] >= static_cast<int32_t>(palette.colours.size())) continue;
    const auto& c = palette.colours[l[i]];
    o[3 * i] = c[0];
    o[3 * i + 1] = c[1];
    o[3 * i + 2] = c[2];
  }
  return out;
}

Tensor overlay(const Tensor& image, const Tensor& labels, const Palette& palette, double alpha) {
  ATROUS_CHECK(image.defined() && image.dtype() == DType::u8 && image.dim() == 3 && image.size(2) == 3 &&
                   labels.defined() && labels.dim() == 2 && image.size(0) == labels.size(0) &&
                   image.size(1) == labels.size(1),
               "overlay: image ", image.description(), " and labels ", labels.description(),
               " must be u8 [H,W,3] and [H,W] of the same size");
  ATROUS_CHECK(alpha >= 0 && alpha <= 1, "overlay: alpha must be in [0, 1], got ", alpha);
  const Tensor colours = colourise(labels, palette);
  const Tensor img = image.contiguous();
  Tensor out = Tensor::empty(img.shape(), DType::u8);
  for (int64_t i = 0; i < img.numel(); ++i) {
    out.data<uint8_t>()[i] = static_cast<uint8_t>(
        (1 - alpha) * img.data<uint8_t>()[i] + alpha * colours.data<uint8_t>()[i] + 0.5);
  }
  return out;
}

}  // namespace atrous
