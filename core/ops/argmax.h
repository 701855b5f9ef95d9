// Argmax over the channel (last) axis: score maps [N,H,W,C] -> label maps [N,H,W] (i32). Ties pick the lowest index.
#pragma once
#include "core/tensor.h"

namespace atrous {

Tensor argmax_channels(const Tensor& x);

}  // namespace atrous
