// Bilinear resize of NHWC tensors, both corner conventions: align_corners=true is Caffe's Interp layer and TF
// DeepLab; false is PyTorch's default (half-pixel centres).
#pragma once
#include "core/tensor.h"

namespace atrous {

// Sampling rule (per axis, dst an output index): align_corners=true: src = dst * (in-1)/(out-1), 0 when out == 1;
// false: src = (dst + 0.5) * in/out - 0.5, clamped below at 0. The upper neighbour is clamped at in-1.
// Scale mode sets out = floor(in * scale) and then samples exactly as an explicit size would (ratios from the
// sizes). That is PyTorch's interpolate(scale_factor=s, recompute_scale_factor=True); PyTorch's default instead
// uses 1/s as the ratio when align_corners=false, which differs whenever in * s is not an integer.
struct ResizeParams {
  int64_t out_h = 0, out_w = 0;  // explicit size (both >= 1), or
  double scale = 0.0;            // a factor > 0: out = floor(in * scale), at least 1
  bool align_corners = false;

  static ResizeParams to_size(int64_t h, int64_t w, bool align_corners) { return {h, w, 0.0, align_corners}; }
  static ResizeParams by_scale(double s, bool align_corners) { return {0, 0, s, align_corners}; }
};

// The output size for an input of in_h x in_w.
std::pair<int64_t, int64_t> resize_output_size(int64_t in_h, int64_t in_w, const ResizeParams& params);

Tensor resize_bilinear(const Tensor& x, const ResizeParams& params);

}  // namespace atrous
