// Multi-scale inputs (MSC; DeepLab v2, "Multiscale image representations" and Table 4): the image at scales
// {1, 0.75, 0.5} through one network with shared weights; each scale's score map is resized bilinearly to the
// scale-1 score map and the maps are fused by element-wise maximum. Training puts a loss on every scale's map and
// on the fused one.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "models/segmentation_model.h"

namespace atrous {

struct MultiScaleOptions {
  // The first scale must be 1: it fixes the size of the fused map, so forward() keeps the wrapped model's output
  // size. The others are usually smaller.
  std::vector<double> scales = {1.0, 0.75, 0.5};
  std::string name;  // registry name; empty: the wrapped model's name + "-msc"
};

// Parameter names are the wrapped model's own (its child modules are registered here under their names), so
// single-scale checkpoints load unchanged into the MSC model and back, as in Caffe where the scales share layers by
// name. The wrapped model must therefore keep all its parameters and buffers in child modules (checked).
//
// Resizing follows the wrapped model's align_corners. With align_corners (Caffe's Interp) a scale s maps an input
// side n to floor((n-1) s) + 1, so corners stay on corners and sampling steps are exactly 1/s: 321 -> 241, 161,
// the sizes Caffe DeepLab's shrink/zoom Interp layers give. Without it n -> max(1, floor(n s)).
class MultiScale : public SegmentationModel {
 public:
  MultiScale(std::shared_ptr<SegmentationModel> model, MultiScaleOptions options = {});

  // The fused logits, at the wrapped model's output size for x.
  Tensor forward(const Tensor& x) override;
  // Every scale's logits, each at its own size, in the order of the scales, then the fused map (last).
  std::vector<Tensor> forward_all_scales(const Tensor& x) override;
  void set_output_stride(int output_stride) override;
  void train(bool on = true) override;

  const std::vector<double>& scales() const { return options_.scales; }
  SegmentationModel& model() { return *model_; }
  // The input side length used for scale s (see above).
  int64_t scaled_size(int64_t n, double s) const;

 private:
  MultiScaleOptions options_;
  std::shared_ptr<SegmentationModel> model_;
};

}  // namespace atrous
