// Max and average pooling on NHWC tensors, with Caffe's ceil-mode output size (DeepLab's pool1..pool5).
#pragma once
#include "core/tensor.h"

namespace atrous {

struct Pool2dParams {
  int kernel = 2;
  int stride = 2;
  int padding = 0;
  bool ceil_mode = false;  // Caffe rounds the output size up; the last window must still start inside input+padding
  // avg_pool2d only: divide by the window clipped to the padded input (Caffe, PyTorch count_include_pad=true)
  // or only by the valid pixels (false).
  bool count_include_pad = true;

  Pool2dParams& with_kernel(int k) { kernel = k; return *this; }
  Pool2dParams& with_stride(int s) { stride = s; return *this; }
  Pool2dParams& with_padding(int p) { padding = p; return *this; }
  Pool2dParams& with_ceil_mode(bool c) { ceil_mode = c; return *this; }
  Pool2dParams& with_count_include_pad(bool c) { count_include_pad = c; return *this; }
};

int64_t pool2d_output_size(int64_t in, const Pool2dParams& p);

Tensor max_pool2d(const Tensor& x, const Pool2dParams& params);
Tensor avg_pool2d(const Tensor& x, const Pool2dParams& params);
// [N,H,W,C] -> [N,1,1,C] (DeepLabv3 image pooling).
Tensor global_avg_pool(const Tensor& x);

}  // namespace atrous
