// Depthwise 2-D convolution (groups == Cin): every input channel c is convolved with its own `multiplier` filters,
// giving output channels [c * multiplier, (c + 1) * multiplier) (PyTorch's channel order for groups == Cin).
// Activations NHWC; weight [Cout, KH, KW, 1] with Cout = Cin * multiplier; stride, padding and dilation as in
// conv2d.h's Conv2dShape (whose cin/cout fields hold Cin and Cout). A GEMM per channel would multiply 1-wide
// matrices, so these kernels are direct: per output pixel, per tap, one pass over the channels (contiguous in NHWC,
// so the CPU loop vectorises and CUDA threads of a warp read consecutive channels).
#pragma once
#include <cstdint>

#include "kernels/conv2d.h"

namespace atrous::kernels {

// Output channels per input channel; Cout must be a positive multiple of Cin.
inline int64_t depthwise_multiplier(const Conv2dShape& s) { return s.cout / s.cin; }

// y[N,OH,OW,Cout] = depthwise conv(x, w) + bias (bias may be null).
template <typename T> void depthwise_conv2d_forward_cpu(const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
// dx[N,H,W,Cin] from dy[N,OH,OW,Cout] (overwritten).
template <typename T> void depthwise_conv2d_backward_data_cpu(const Conv2dShape& s, const T* dy, const T* w, T* dx);
// dw[Cout,KH,KW,1] (overwritten). Partial sums over fixed chunks of output rows, added in a fixed order: the result
// does not depend on the number of threads.
template <typename T> void depthwise_conv2d_backward_weight_cpu(const Conv2dShape& s, const T* dy, const T* x, T* dw);
// The bias gradient is conv2d_backward_bias_cpu's (a sum of dy over pixels, whatever the grouping).

namespace cuda {
// Device twins of the above (device pointers on `device`, queued on its stream). The bias gradient is
// kernels::cuda::conv2d_backward_bias.
template <typename T>
void depthwise_conv2d_forward(int device, const Conv2dShape& s, const T* x, const T* w, const T* bias, T* y);
template <typename T>
void depthwise_conv2d_backward_data(int device, const Conv2dShape& s, const T* dy, const T* w, T* dx);
template <typename T>
void depthwise_conv2d_backward_weight(int device, const Conv2dShape& s, const T* dy, const T* x, T* dw);
}  // namespace cuda

}  // namespace atrous::kernels
