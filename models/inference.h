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
  // Where the model runs: its parameters and buffers are moved there, the preprocessed image is copied there.
  Device device = Device::cpu();
};

// image: RGB u8 [H,W,3] on the CPU. Returns f32 logits [H,W,C] on the CPU, whatever options.device. The model is
// put in eval mode; no graph is recorded.
Tensor predict_logits(SegmentationModel& model, const Tensor& image, const InferenceOptions& options);

// Reverses the W axis of an NHWC tensor (not differentiable), on the tensor's device.
Tensor flip_horizontal(const Tensor& x);

}  // namespace atrous
