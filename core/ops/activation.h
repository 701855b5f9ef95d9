// Differentiable MobileNet activations (MobileNetV3, Howard et al. 2019, section 5.2; PyTorch's definitions, edges
// included: see kernels/activation.h) and squeeze-and-excitation's channel rescale (Hu et al. 2018, eq. 4).
#pragma once
#include "core/tensor.h"

namespace atrous {

Tensor relu6(const Tensor& x);        // min(max(x, 0), 6)
Tensor hardsigmoid(const Tensor& x);  // relu6(x + 3) / 6
Tensor hardswish(const Tensor& x);    // x * relu6(x + 3) / 6
Tensor sigmoid(const Tensor& x);      // 1 / (1 + exp(-x))

// x [N,H,W,C] times s [N,1,1,C] broadcast over H and W (s is what global_avg_pool and the SE block's two 1x1 convs
// produce); gradients flow to both.
Tensor scale_channels(const Tensor& x, const Tensor& s);

}  // namespace atrous
