// MobileNetV2's inverted residual block (Sandler et al. 2018, Sec. 3.3, Table 1): 1x1 expansion (by expand_ratio,
// skipped when it is 1) + BN + ReLU6, 3x3 depthwise (stride, atrous rate) + BN + ReLU6, 1x1 linear projection + BN,
// and an identity shortcut when stride is 1 and the channel counts agree. Names follow torchvision: "conv.0",
// "conv.1" (ConvNormActivation), then the projection conv and its BN as "conv.2"/"conv.3" (expanding blocks) or
// "conv.1"/"conv.2" (expand_ratio 1).
#pragma once
#include <memory>

#include "core/random.h"
#include "layers/conv_norm_activation.h"

namespace atrous {

// MobileNets' channel rounding (torchvision's _make_divisible(v, 8)): the nearest multiple of `divisor`, at least
// `divisor`, never more than 10% below v.
int make_divisible(double v, int divisor = 8);

struct InvertedResidualOptions {
  int in_channels = 0;
  int out_channels = 0;
  int stride = 1;
  int dilation = 1;
  int expand_ratio = 6;
  BatchNormSettings bn{};

  InvertedResidualOptions(int in, int out, int stride_, int expand) :
      in_channels(in), out_channels(out), stride(stride_), expand_ratio(expand) {}
};

class InvertedResidual : public Module {
 public:
  InvertedResidual(const InvertedResidualOptions& options, Generator& gen);

  // x [N,H,W,in] -> [N, ceil(H/stride), ceil(W/stride), out].
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  // The depthwise conv carries stride and rate; padding follows the rate ("same" for the 3x3 kernel). The shortcut
  // is fixed at construction (torchvision's rule), so an atrous block keeps the one its strided form lacked.
  void set_stride(int stride);
  void set_dilation(int dilation);
  int stride() const { return depthwise_->options().stride; }
  int dilation() const { return depthwise_->options().dilation; }
  bool has_shortcut() const { return shortcut_; }
  int out_channels() const { return options_.out_channels; }

 private:
  InvertedResidualOptions options_;
  bool shortcut_;
  std::shared_ptr<Sequential> conv_;
  Conv2d* depthwise_;  // owned by conv_
};

}  // namespace atrous
