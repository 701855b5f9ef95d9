// Internal to conv2d: the argument checks and shape translation every conv path shares, and the grouped path
// conv2d() dispatches to when groups > 1 (arguments already checked there).
#pragma once
#include "core/ops/conv2d.h"
#include "kernels/conv2d.h"

namespace atrous::detail {

// Errors naming the op and the shapes when x, w, b and p do not make a convolution.
void check_conv2d_arguments(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p);
kernels::Conv2dShape conv2d_kernel_shape(const Shape& x, const Shape& w, const Conv2dParams& p);

// groups == Cin: depthwise kernels (one direct pass, any channel multiplier). Otherwise each group is an ordinary
// convolution on its slice of channels, and the outputs are concatenated (autograd composes the backward).
Tensor grouped_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p);

}  // namespace atrous::detail
