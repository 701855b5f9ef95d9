// Batch normalisation over N, H, W for each channel of an NHWC tensor (Ioffe & Szegedy 2015).
#pragma once
#include "core/tensor.h"

namespace atrous {

enum class BatchNormMode {
  Train,   // batch statistics; running stats updated with momentum
  Eval,    // running statistics; weight/bias still receive gradients
  Frozen,  // running statistics and no gradient to weight/bias (DeepLab's frozen BN on fine-tuning)
};

struct BatchNormParams {
  BatchNormMode mode = BatchNormMode::Train;
  // running = (1 - momentum) * running + momentum * batch (PyTorch convention; TF "decay" 0.9997 is momentum 0.0003).
  double momentum = 0.1;
  double eps = 1e-5;
};

// x [N,H,W,C]; weight, bias [C] or undefined (no affine); running_mean, running_var [C] (updated in place in Train
// mode with the unbiased batch variance, as PyTorch does). Returns [N,H,W,C].
Tensor batch_norm(const Tensor& x, const Tensor& weight, const Tensor& bias, Tensor running_mean, Tensor running_var,
                  const BatchNormParams& params = {});

}  // namespace atrous
