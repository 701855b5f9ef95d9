// Each shape class has its own colour and stripe texture; the background has a different texture and colour noise,
// so the net must use both colour and local structure (and the shape's extent) to label pixels.
#include "data/synthetic.h"

#include <algorithm>
#include <cmath>

#include "core/random.h"

namespace atrous {
namespace {

struct Rgb {
  float r, g, b;
};

// Base colours chosen to overlap partially in each channel, so no single channel separates the classes.
Rgb class_colour(int cls) {
  static const Rgb palette[] = {{110, 110, 100}, {200, 60, 60},  {60, 170, 70},  {70, 90, 200},
                                {200, 180, 60},  {170, 70, 190}, {60, 180, 180}, {230, 130, 40}};
  return palette[cls % 8];
}

// Shape kind k covers pixel (y, x) given its centre and radius.
bool covers(int kind, float dy, float dx, float radius) {
  switch (kind % 4) {
    case 0: return dx * dx + dy * dy <= radius * radius;                                     // disc
    case 1: return std::abs(dx) <= radius * 0.9f && std::abs(dy) <= radius * 0.7f;          // box
    case 2: return dy <= radius * 0.8f && dy >= -radius && std::abs(dx) <= (dy + radius) * 0.6f;  // triangle
    default: {
      const float r2 = dx * dx + dy * dy;
      return r2 <= radius * radius && r2 >= radius * radius * 0.3f;  // ring
    }
  }
}

}  // namespace

SegmentationSample make_synthetic_sample(const SyntheticConfig& c, int64_t index) {
  ATROUS_CHECK(c.height > 0 && c.width > 0 && c.num_classes >= 2 && c.shapes_per_image >= 0,
               "make_synthetic_sample: need positive size and at least 2 classes, got ", c.height, "x", c.width, ", ",
               c.num_classes, " classes");
  Generator gen(c.seed * 0x9E3779B97F4A7C15ull + static_cast<uint64_t>(index));
  SegmentationSample s{Tensor::empty({c.height, c.width, 3}), Tensor::zeros({c.height, c.width}, DType::u8)};
  float* img = s.image.data<float>();
  uint8_t* lab = s.label.data<uint8_t>();

  // Background: a diagonal stripe texture with a random phase.
  const float phase = gen.next_uniform() * 6.28f;
  const Rgb bg = class_colour(0);
  for (int y = 0; y < c.height; ++y) {
    for (int x = 0; x < c.width; ++x) {
      const float t = 25.0f * std::sin(0.35f * (x + y) + phase);
      float* p = img + (static_cast<int64_t>(y) * c.width + x) * 3;
      p[0] = bg.r + t;
      p[1] = bg.g + t;
      p[2] = bg.b - t;
    }
  }

  // Shapes, painted in order (later ones occlude earlier ones).
  const float min_side = static_cast<float>(std::min(c.height, c.width));
  for (int k = 0; k < c.shapes_per_image; ++k) {
    const int cls = 1 + static_cast<int>(gen.next_uniform() * (c.num_classes - 1)) % (c.num_classes - 1);
    const float cy = gen.next_uniform() * c.height, cx = gen.next_uniform() * c.width;
    const float radius = min_side * (0.12f + 0.15f * gen.next_uniform());
    const float freq = 0.5f + 0.25f * cls;  // each class has its own stripe frequency
    const Rgb col = class_colour(cls);
    const int y0 = std::max(0, static_cast<int>(cy - radius)), y1 = std::min(c.height - 1, static_cast<int>(cy + radius));
    const int x0 = std::max(0, static_cast<int>(cx - radius)), x1 = std::min(c.width - 1, static_cast<int>(cx + radius));
    for (int y = y0; y <= y1; ++y) {
      for (int x = x0; x <= x1; ++x) {
        if (!covers(cls - 1, y - cy, x - cx, radius)) continue;
        const float t = 20.0f * std::sin(freq * y);
        float* p = img + (static_cast<int64_t>(y) * c.width + x) * 3;
        p[0] = col.r + t;
        p[1] = col.g - t;
        p[2] = col.b + t;
        lab[static_cast<int64_t>(y) * c.width + x] = static_cast<uint8_t>(cls);
      }
    }
  }

  // Pixel noise so that no colour value identifies a class by itself.
  for (int64_t i = 0; i < s.image.numel(); ++i) {
    img[i] = std::clamp(img[i] + 18.0f * static_cast<float>(gen.next_normal()), 0.0f, 255.0f);
  }
  return s;
}

SegmentationBatch make_synthetic_batch(const SyntheticConfig& c, int64_t first_index, int batch_size) {
  ATROUS_CHECK(batch_size >= 1, "make_synthetic_batch: batch size must be >= 1, got ", batch_size);
  SegmentationBatch b{Tensor::empty({batch_size, c.height, c.width, 3}),
                      Tensor::empty({batch_size, c.height, c.width}, DType::u8)};
  const int64_t pixels = static_cast<int64_t>(c.height) * c.width;
  for (int i = 0; i < batch_size; ++i) {
    SegmentationSample s = make_synthetic_sample(c, first_index + i);
    const float* src = s.image.data<float>();
    float* dst = b.images.data<float>() + i * pixels * 3;
    for (int64_t j = 0; j < pixels * 3; ++j) dst[j] = (src[j] - 128.0f) / 64.0f;
    std::copy(s.label.data<uint8_t>(), s.label.data<uint8_t>() + pixels, b.labels.data<uint8_t>() + i * pixels);
  }
  return b;
}

}  // namespace atrous
