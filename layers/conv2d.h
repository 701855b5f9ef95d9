// Conv2d layer: weight [Cout, KH, KW, Cin / groups] and optional bias [Cout] (PyTorch names "weight", "bias").
#pragma once
#include "core/ops/conv2d.h"
#include "core/random.h"
#include "layers/module.h"

namespace atrous {

struct Conv2dOptions {
  int in_channels = 0;
  int out_channels = 0;
  int kernel = 3;
  int stride = 1;
  int padding = 0;
  int dilation = 1;
  int groups = 1;  // Cin and Cout must be multiples; groups == Cin is a depthwise convolution
  bool bias = true;
  ParamOptions weight_options{};               // e.g. {10, 1} for a classifier trained at 10x lr
  ParamOptions bias_options{2.0, 0.0};         // Caffe/DeepLab convention: biases at 2x lr, no decay

  Conv2dOptions(int in, int out, int k) : in_channels(in), out_channels(out), kernel(k) {}
  Conv2dOptions& with_stride(int s) { stride = s; return *this; }
  Conv2dOptions& with_padding(int p) { padding = p; return *this; }
  Conv2dOptions& with_dilation(int d) { dilation = d; return *this; }
  Conv2dOptions& with_groups(int g) { groups = g; return *this; }
  // "Same" padding for odd kernels at this dilation: pad = dilation * (kernel - 1) / 2.
  Conv2dOptions& with_same_padding() { padding = dilation * (kernel - 1) / 2; return *this; }
  Conv2dOptions& with_bias(bool b) { bias = b; return *this; }
  Conv2dOptions& with_lr_mult(double weight_mult, double bias_mult) {
    weight_options.lr_mult = weight_mult;
    bias_options.lr_mult = bias_mult;
    return *this;
  }
};

class Conv2d : public Module {
 public:
  // Weights are drawn like PyTorch's default (uniform +-1/sqrt(fan_in)); models re-initialise as their paper says.
  explicit Conv2d(const Conv2dOptions& options, Generator& gen = default_generator());

  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  const Conv2dOptions& options() const { return options_; }
  Conv2dParams params() const;  // stride, padding, dilation and groups, as the conv2d op takes them
  // Changing dilation (with padding kept "same") is how DeepLabv3 switches output stride without new weights.
  void set_dilation(int dilation, int padding);
  // The first block of a ResNet stage gives up its stride when that stage becomes atrous (output stride 8/16/32).
  void set_stride(int stride);
  Tensor& weight() { return weight_; }
  Tensor& bias() { return *bias_; }
  bool has_bias() const { return bias_ != nullptr; }

 private:
  Conv2dOptions options_;
  Tensor& weight_;
  Tensor* bias_ = nullptr;
};

}  // namespace atrous
