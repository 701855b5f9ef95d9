// 2-D convolution with stride, zero padding, dilation (atrous convolution, DeepLab eq. 1:
// y[i] = sum_k x[i + r*k] w[k]) and groups. Activations NHWC, weights [Cout, KH, KW, Cin / groups], bias [Cout].
// With groups g, input channels [i*Cin/g, (i+1)*Cin/g) feed only output channels [i*Cout/g, (i+1)*Cout/g)
// (PyTorch's grouping); g == Cin is a depthwise convolution (MobileNet), run by its own direct kernels.
#pragma once
#include "core/tensor.h"

namespace atrous {

struct Conv2dParams {
  int stride = 1;
  int padding = 0;
  int dilation = 1;
  int groups = 1;

  Conv2dParams& with_stride(int s) { stride = s; return *this; }
  Conv2dParams& with_padding(int p) { padding = p; return *this; }
  Conv2dParams& with_dilation(int d) { dilation = d; return *this; }
  Conv2dParams& with_groups(int g) { groups = g; return *this; }
};

// Output size along one axis: floor((in + 2p - d(k-1) - 1) / s) + 1.
int64_t conv2d_output_size(int64_t in, int64_t kernel, const Conv2dParams& p);

// x [N,H,W,Cin], weight [Cout,KH,KW,Cin/groups], bias [Cout] or undefined -> [N,OH,OW,Cout].
Tensor conv2d(const Tensor& x, const Tensor& weight, const Tensor& bias, const Conv2dParams& params = {});

}  // namespace atrous
