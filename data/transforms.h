// Training-time augmentation and input normalisation, deterministic under a seed: the same (seed, epoch, sample)
// always gives the same crop, scale and flip, whatever thread runs it, so an interrupted run resumes exactly.
#pragma once
#include <cstdint>

#include "data/dataset.h"
#include "data/preprocessing.h"

namespace atrous {

struct AugmentOptions {
  int crop_height = 321;
  int crop_width = 321;
  double scale_min = 0.5;  // random scale range (DeepLab v2: 0.5-1.5, v3: 0.5-2.0); min == max == 1 disables it
  double scale_max = 1.5;
  bool flip = true;        // random horizontal flip
  bool random_crop = true; // false: centre crop (validation at a fixed size)
};

// One sample's random choices, drawn from Philox keyed by (seed, stream), so they are reproducible.
struct AugmentDraw {
  double scale = 1.0;
  bool flip = false;
  double crop_y = 0.0;  // in [0,1): where the crop window starts within the free range
  double crop_x = 0.0;
};
AugmentDraw draw_augmentation(const AugmentOptions& options, uint64_t seed, uint64_t stream);

// Scales the image (bilinear) and the label (nearest), flips, pads to the crop size (image with `pad_value`, which is
// the mean in the model's input space so padding normalises to zero; label with the ignore index), crops.
// Returns image f32 [crop_h, crop_w, 3] normalised by `preprocessing` and label u8 [crop_h, crop_w].
struct TransformedSample {
  Tensor image;
  Tensor label;
};
TransformedSample augment_sample(const LabeledImage& sample, const AugmentOptions& options, const AugmentDraw& draw,
                                 const Preprocessing& preprocessing, int ignore_index);

// No augmentation: the whole image normalised, label unchanged (evaluation).
TransformedSample normalise_sample(const LabeledImage& sample, const Preprocessing& preprocessing);

}  // namespace atrous
