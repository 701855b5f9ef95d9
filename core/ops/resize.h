// Bilinear resize of NHWC tensors, both corner conventions: align_corners=true is Caffe's Interp layer and TF
// DeepLab; false is PyTorch's default (half-pixel centres).
#pragma once
#include "core/tensor.h"

namespace atrous {

struct ResizeParams {
  int64_t out_h = 0, out_w = 0;  // explicit size, or
  double scale = 0.0;            // out = floor(in * scale) (PyTorch's scale_factor rule)
  bool align_corners = false;

  static ResizeParams to_size(int64_t h, int64_t w, bool align_corners) { return {h, w, 0.0, align_corners}; }
  static ResizeParams by_scale(double s, bool align_corners) { return {0, 0, s, align_corners}; }
};

// The output size for an input of in_h x in_w.
std::pair<int64_t, int64_t> resize_output_size(int64_t in_h, int64_t in_w, const ResizeParams& params);

Tensor resize_bilinear(const Tensor& x, const ResizeParams& params);

}  // namespace atrous
