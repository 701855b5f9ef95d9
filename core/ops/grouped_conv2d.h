// Internal to conv2d: the argument checks, shape translation and backward every conv path shares (conv2d_bn_relu's
// too), and the grouped path conv2d() dispatches to when groups > 1 (arguments already checked there).
#pragma once
#include <vector>

#include "core/ops/conv2d.h"
#include "kernels/conv2d.h"

namespace atrous::detail {

// Errors naming the op and the shapes when x, w, b and p do not make a convolution.
void check_conv2d_arguments(const char* op, const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p);
kernels::Conv2dShape conv2d_kernel_shape(const Shape& x, const Shape& w, const Conv2dParams& p);

// What a groups-1 convolution's backward keeps: x (contiguous) only if the weight x_in/w_in came from needs a
// gradient, w only if x does.
struct Conv2dSaved {
  Shape x_shape, w_shape;
  Tensor x, w;
  bool has_bias = false;
  Conv2dParams params;
};
Conv2dSaved conv2d_saved(const Tensor& x_in, const Tensor& w_in, const Tensor& x, const Tensor& w, bool has_bias,
                         const Conv2dParams& params);
// Gradients of x, weight and bias for the gradient g of the convolution's output (with its bias); only those
// needs asks for.
std::vector<Tensor> conv2d_backward(const Tensor& g, const Conv2dSaved& saved, const std::vector<bool>& needs);

// groups == Cin: depthwise kernels (one direct pass, any channel multiplier). Otherwise each group is an ordinary
// convolution on its slice of channels, and the outputs are concatenated (autograd composes the backward).
Tensor grouped_conv2d(const Tensor& x, const Tensor& w, const Tensor& b, const Conv2dParams& p);

}  // namespace atrous::detail
