// Nearest-neighbour resize of label maps [N,H,W] (or maps [N,H,W,C]) of any dtype, on the input's device: what the
// loss uses to bring labels to the logits' size (train/trainer.h), and masks to an image's.
#pragma once
#include <cstdint>

#include "core/tensor.h"

namespace atrous {

// x: [N,H,W] or [N,H,W,C] of any dtype (u8, i32, f32, f64), H and W >= 1; out_h, out_w >= 1. Each output pixel
// copies the input pixel nearest to where resize_bilinear with the same align_corners samples. Not differentiable
// (labels and masks have no gradient): an input that requires grad is an error rather than a silently cut graph.
Tensor resize_nearest(const Tensor& x, int64_t out_h, int64_t out_w, bool align_corners);

}  // namespace atrous
