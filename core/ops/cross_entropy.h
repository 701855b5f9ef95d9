// Softmax cross-entropy over channels with an ignore label: the DeepLab training loss.
#pragma once
#include "core/tensor.h"

namespace atrous {

struct CrossEntropyParams {
  int ignore_index = 255;  // VOC void; CamVid uses 11
  Tensor class_weights;    // optional [C]: loss = sum_i w[y_i] l_i / sum_i w[y_i] over valid pixels (as PyTorch)
};

// logits [N,H,W,C] f32/f64; labels [N,H,W] i32 or u8 with values in [0, C) or ignore_index (anything else is an
// error naming the value). Returns the mean over valid pixels as a scalar; 0 (with zero gradient) when every pixel
// is ignored, where PyTorch would return NaN.
Tensor softmax_cross_entropy(const Tensor& logits, const Tensor& labels, const CrossEntropyParams& params = {});

}  // namespace atrous
