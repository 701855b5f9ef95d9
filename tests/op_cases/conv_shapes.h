// The conv2d shape table: DeepLab's heavy layers (batch 1, NHWC, f32), each with its FLOPs and bytes. The conv2d op
// cases time them (op_cases/conv2d.cpp, bench_ops), as do bench_conv2d (CPU kernels) and bench_cuda_conv (against
// cuDNN); test_conv2d spot-checks them, and benchmarks/peers/bench_pytorch.py reads this file to time PyTorch on the same
// shapes. Names are what scripts match against PyTorch's runs.
#pragma once
#include <cstdint>
#include <vector>

#include "core/ops/conv2d.h"
#include "kernels/conv2d.h"

namespace atrous::conv_shapes {

struct ConvCase {
  const char* name;
  int64_t n, h, w, cin, cout, kernel;
  int stride, padding, dilation;

  Conv2dParams params() const {
    return Conv2dParams().with_stride(stride).with_padding(padding).with_dilation(dilation);
  }
  int64_t out_h() const { return conv2d_output_size(h, kernel, params()); }
  int64_t out_w() const { return conv2d_output_size(w, kernel, params()); }
  // The same layer as the kernels' shape descriptor (the CPU and CUDA kernel benchmarks call kernels directly).
  kernels::Conv2dShape kernel_shape() const {
    kernels::Conv2dShape s;
    s.n = n;
    s.h = h;
    s.w = w;
    s.cin = cin;
    s.cout = cout;
    s.kh = s.kw = kernel;
    s.oh = out_h();
    s.ow = out_w();
    s.stride = stride;
    s.pad_h = s.pad_w = padding;
    s.dilation = dilation;
    return s;
  }
  // Multiply-adds count twice; the same figure serves forward, backward-data and backward-weight.
  double flops() const { return 2.0 * n * out_h() * out_w() * cout * kernel * kernel * cin; }
  // Compulsory f32 traffic: input, weight and output once each.
  double bytes() const { return 4.0 * (n * h * w * cin + cout * kernel * kernel * cin + n * out_h() * out_w() * cout); }
};

// DeepLab-LargeFOV fc6 (rate 12, 1024 channels in our reduced-fc6 variant) at the 321 and 513 crops' output
// stride 8, DeepLab-v2/v3 dilated 3x3 blocks, VGG conv1_2 at full resolution, a 1x1 projection and a stride-2 3x3.
inline const std::vector<ConvCase>& deeplab_suite() {
  static const std::vector<ConvCase> cases = {
      {"fc6_r12_41", 1, 41, 41, 1024, 1024, 3, 1, 12, 12},
      {"fc6_r12_65", 1, 65, 65, 1024, 1024, 3, 1, 12, 12},
      {"r2_512_41", 1, 41, 41, 512, 512, 3, 1, 2, 2},
      {"r4_512_65", 1, 65, 65, 512, 512, 3, 1, 4, 4},
      {"conv_64_321", 1, 321, 321, 64, 64, 3, 1, 1, 1},
      {"pw_1024_65", 1, 65, 65, 1024, 1024, 1, 1, 0, 1},
      {"s2_256_129", 1, 129, 129, 256, 256, 3, 2, 1, 1},  // ResNet-101 layer3 entry (513 crop): the strided path
  };
  return cases;
}

}  // namespace atrous::conv_shapes
