// conv2d -> batch norm with fixed statistics and affine -> residual add -> ReLU as one op: inference, and training
// with a frozen batch norm (DeepLab v2's) or none. On the CPU the normalisation, the shortcut and the ReLU run on each
// output tile of the convolution while it is in cache (kernels::ConvEpilogue): none makes a pass of its own over the
// activations nor a tensor of its own (DeepLabv3-ResNet-101 has ~100 such triples), and the backward goes through
// the ReLU and the batch norm in one pass.
#pragma once
#include "core/ops/conv2d.h"

namespace atrous {

// A batch norm that normalises with its running statistics (BatchNorm2d in eval or frozen mode). weight and bias
// may be undefined (no affine); running_mean and running_var may not.
struct RunningBatchNorm {
  Tensor weight, bias, running_mean, running_var;
  double eps = 1e-5;
};

// relu(batch_norm(conv2d(x, weight, bias, params)) + residual); without the batch norm when bn is null, without the
// residual when it is undefined (a residual block's shortcut, shaped like the output), without the ReLU when relu
// is false. CPU with groups 1: one fused pass, the same arithmetic as the ops in the same order. Other devices,
// grouped and depthwise convolutions: the ops in turn. Gradients reach x, weight, bias and residual as through the
// ops in turn; the batch norm's tensors are constants (an error if one requires a gradient in grad mode).
Tensor conv2d_bn_relu(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& params,
                      const RunningBatchNorm* bn, bool relu, const Tensor& residual = Tensor());

}  // namespace atrous
