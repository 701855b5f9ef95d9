// Whole-image inference: preprocessing, optional multi-scale inputs and left-right flips, and logits resized to the
// image. With several scales/flips the logits are averaged after resizing to the image size (DeepLabv3 averages
// over scales and flips; averaging logits rather than probabilities keeps the saved array a logit map).
#pragma once
#include <vector>

#include "models/segmentation_model.h"

namespace atrous {

struct InferenceOptions {
  std::vector<double> scales{1.0};
  bool flip = false;
  Preprocessing preprocessing;  // usually model.definition().preprocessing
};

// image: RGB u8 [H,W,3]. Returns f32 logits [H,W,C]. The model is put in eval mode; no graph is recorded.
Tensor predict_logits(SegmentationModel& model, const Tensor& image, const InferenceOptions& options);

// Reverses the W axis of an NHWC tensor (not differentiable).
Tensor flip_horizontal(const Tensor& x);

}  // namespace atrous
