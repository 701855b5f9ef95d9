// Training augmentation as DeepLab does it: random scale, pad (bottom/right) to the crop size, random crop, flip.
// Geometry: the image is resized with half-pixel centres (align_corners=false), output pixel y sampling source
// position (y + 0.5) * H / h - 0.5; the label takes the nearest source pixel to that same position,
// floor((y + 0.5) * H / h), so every label stays on the pixel whose colour it describes. Flip and crop then move
// image and label together on the same integer grid.
#include "data/transforms.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"
#include "core/ops/resize.h"
#include "core/random.h"

namespace atrous {
namespace {

void check_options(const AugmentOptions& o) {
  ATROUS_CHECK(o.crop_height >= 1 && o.crop_width >= 1, "augmentation: crop size must be at least 1x1, got ",
               o.crop_height, "x", o.crop_width);
  ATROUS_CHECK(o.scale_min > 0 && o.scale_max >= o.scale_min && std::isfinite(o.scale_max),
               "augmentation: scale range must satisfy 0 < min <= max, got ", o.scale_min, "..", o.scale_max);
}

void check_sample(const char* op, const LabeledImage& s) {
  ATROUS_CHECK(s.image.defined() && s.image.dtype() == DType::u8 && s.image.dim() == 3 && s.image.size(2) == 3 &&
                   s.image.numel() > 0,
               op, ": sample '", s.id, "': expected an image u8 [H,W,3], got ",
               s.image.defined() ? s.image.description() : "none");
  ATROUS_CHECK(s.label.defined() && s.label.dtype() == DType::u8 && s.label.dim() == 2 &&
                   s.label.size(0) == s.image.size(0) && s.label.size(1) == s.image.size(1),
               op, ": sample '", s.id, "': expected a label u8 [", s.image.size(0), ",", s.image.size(1),
               "] matching the image, got ", s.label.defined() ? s.label.description() : "none");
}

// Nearest source index for each of `out` destination indices under the half-pixel rule above.
std::vector<int64_t> nearest_sources(int64_t in, int64_t out) {
  std::vector<int64_t> src(static_cast<size_t>(out));
  const double ratio = static_cast<double>(in) / static_cast<double>(out);
  for (int64_t i = 0; i < out; ++i) {
    src[i] = std::min(in - 1, static_cast<int64_t>(std::floor((static_cast<double>(i) + 0.5) * ratio)));
  }
  return src;
}

// Where the crop starts within [0, free]: `fraction` in [0,1) picks one of the free + 1 positions uniformly.
int64_t crop_offset(int64_t free, double fraction) {
  if (free <= 0) return 0;
  return std::clamp(static_cast<int64_t>(std::floor(fraction * static_cast<double>(free + 1))), int64_t(0), free);
}

}  // namespace

AugmentDraw draw_augmentation(const AugmentOptions& options, uint64_t seed, uint64_t stream) {
  check_options(options);
  // Four numbers per sample: one whole Philox block, so streams never overlap.
  auto u = [&](uint64_t i) { return static_cast<double>(philox_uniform(seed, stream * 4, i)); };
  AugmentDraw d;
  d.scale = options.scale_min + u(0) * (options.scale_max - options.scale_min);
  d.flip = options.flip && u(1) < 0.5;
  d.crop_y = options.random_crop ? u(2) : 0.5;
  d.crop_x = options.random_crop ? u(3) : 0.5;
  return d;
}

TransformedSample augment_sample(const LabeledImage& sample, const AugmentOptions& options, const AugmentDraw& draw,
                                 const Preprocessing& preprocessing, int ignore_index) {
  check_options(options);
  check_sample("augment_sample", sample);
  ATROUS_CHECK(draw.scale > 0 && std::isfinite(draw.scale), "augment_sample: sample '", sample.id,
               "': scale must be finite and > 0, got ", draw.scale);
  ATROUS_CHECK(ignore_index >= 0 && ignore_index <= 255, "augment_sample: ignore index must fit a u8 label, got ",
               ignore_index);
  const int64_t in_h = sample.image.size(0), in_w = sample.image.size(1);
  const int64_t crop_h = options.crop_height, crop_w = options.crop_width;

  // 1. Scale. At least one pixel per side, like resize_output_size's rule.
  const ResizeParams scale = ResizeParams::by_scale(draw.scale, false);
  const auto [h, w] = resize_output_size(in_h, in_w, scale);
  const Tensor label_in = sample.label.contiguous();
  Tensor scaled;  // f32 [h,w,3], or the u8 input itself when the scale leaves the size unchanged
  if (h == in_h && w == in_w) {
    scaled = sample.image.contiguous();  // half-pixel sampling at ratio 1 is the identity
  } else {
    scaled =
        resize_bilinear(sample.image.to(DType::f32).reshape({1, in_h, in_w, 3}), ResizeParams::to_size(h, w, false))
            .reshape({h, w, 3});
  }
  const std::vector<int64_t> label_rows = nearest_sources(in_h, h), label_cols = nearest_sources(in_w, w);

  // 2. Pad bottom/right to the crop size and 3. crop: the window's top-left corner on the padded canvas.
  const int64_t top = crop_offset(std::max(h, crop_h) - crop_h, draw.crop_y);
  const int64_t left = crop_offset(std::max(w, crop_w) - crop_w, draw.crop_x);
  // The image covers the top-left valid_h x valid_w of the window; the rest is padding.
  const int64_t valid_h = std::min(crop_h, h - top), valid_w = std::min(crop_w, w - left);

  Tensor raw = Tensor::zeros({crop_h, crop_w, 3}, DType::f32);
  Tensor label = Tensor::full({crop_h, crop_w}, ignore_index, DType::u8);
  float* out = raw.data<float>();
  uint8_t* out_label = label.data<uint8_t>();
  const uint8_t* src_label = label_in.data<uint8_t>();
  const bool from_u8 = scaled.dtype() == DType::u8;
  const uint8_t* src_u8 = from_u8 ? scaled.data<uint8_t>() : nullptr;
  const float* src_f32 = from_u8 ? nullptr : scaled.data<float>();
  for (int64_t y = 0; y < valid_h; ++y) {
    const int64_t sy = top + y;
    for (int64_t x = 0; x < valid_w; ++x) {
      // 4. Flip: mirror within the image (before padding), so the padding stays at the right.
      const int64_t sx = draw.flip ? w - 1 - (left + x) : left + x;
      const int64_t s = (sy * w + sx) * 3, d = (y * crop_w + x) * 3;
      for (int c = 0; c < 3; ++c) {
        out[d + c] = from_u8 ? static_cast<float>(src_u8[s + c]) : src_f32[s + c];
      }
      out_label[y * crop_w + x] = src_label[label_rows[sy] * in_w + label_cols[sx]];
    }
  }

  // 5. Normalise, then zero the padding: it stands for the mean, which normalises to exactly zero.
  Tensor image = preprocess(raw, preprocessing).reshape({crop_h, crop_w, 3});
  float* normalised = image.data<float>();
  for (int64_t y = 0; y < crop_h; ++y) {
    for (int64_t x = 0; x < crop_w; ++x) {
      if (y < valid_h && x < valid_w) continue;
      std::fill_n(normalised + (y * crop_w + x) * 3, 3, 0.0f);
    }
  }
  return {image, label};
}

TransformedSample normalise_sample(const LabeledImage& sample, const Preprocessing& preprocessing) {
  check_sample("normalise_sample", sample);
  const int64_t h = sample.image.size(0), w = sample.image.size(1);
  return {preprocess(sample.image, preprocessing).reshape({h, w, 3}), sample.label.contiguous()};
}

}  // namespace atrous
