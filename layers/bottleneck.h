// ResNet bottleneck block (He et al. 2016) in torchvision's "v1.5" form: 1x1 reduce, 3x3 (carrying the stride and
// the atrous rate), 1x1 expand (x4), each followed by BN, plus an identity or 1x1-conv+BN projection shortcut.
// Names follow torchvision: conv1/bn1/conv2/bn2/conv3/bn3 and downsample.0 (conv) / downsample.1 (BN).
#pragma once
#include <memory>

#include "core/random.h"
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"
#include "layers/residual_block.h"
#include "layers/sequential.h"

namespace atrous {

// He et al. 2015 normal initialisation with fan_out = Cout*KH*KW (torchvision's kaiming_normal_(mode="fan_out",
// nonlinearity="relu")), in place; used by ResNet and the DeepLab heads.
void kaiming_normal_fan_out_(Tensor& weight, Generator& gen);

// BN settings shared by every BN of a network (DeepLabv3 trains with TF decay 0.9997 = momentum 0.0003; DeepLab v2
// keeps BN frozen).
struct BatchNormSettings {
  double momentum = 0.1;
  double eps = 1e-5;
  bool frozen = false;
  BatchNorm2dOptions options(int channels) const {
    return BatchNorm2dOptions(channels).with_momentum(momentum).with_eps(eps).with_frozen(frozen);
  }
};

struct BottleneckOptions {
  int in_channels = 0;
  int planes = 0;     // width of the 3x3 conv; the block outputs planes * kExpansion channels
  int stride = 1;
  int dilation = 1;   // rate of the 3x3 conv (padding = dilation keeps the size)
  // The projection shortcut exists when the input shape differs from the output: stride != 1 or
  // in_channels != planes * 4 (torchvision's rule). It stays when the stride is later turned into dilation.
  bool downsample = false;
  BatchNormSettings bn{};

  BottleneckOptions(int in, int planes_, int stride_ = 1, int dilation_ = 1)
      : in_channels(in), planes(planes_), stride(stride_), dilation(dilation_),
        downsample(stride_ != 1 || in != planes_ * 4) {}
};

class Bottleneck : public ResidualBlock {
 public:
  static constexpr int kExpansion = 4;

  Bottleneck(const BottleneckOptions& options, Generator& gen);

  // x [N,H,W,in] -> [N, ceil(H/stride), ceil(W/stride), planes*4].
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  void set_stride(int stride) override;
  void set_dilation(int dilation) override;
  int stride() const override { return conv2_->options().stride; }
  int dilation() const override { return conv2_->options().dilation; }
  int out_channels() const override { return conv3_->options().out_channels; }

  Conv2d& conv1() { return *conv1_; }
  Conv2d& conv2() { return *conv2_; }
  Conv2d& conv3() { return *conv3_; }
  BatchNorm2d& bn1() { return *bn1_; }
  BatchNorm2d& bn2() { return *bn2_; }
  BatchNorm2d& bn3() { return *bn3_; }
  Conv2d* downsample_conv() override { return downsample_conv_.get(); }

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_, conv3_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_, bn3_;
  std::shared_ptr<Sequential> downsample_;
  std::shared_ptr<Conv2d> downsample_conv_;
};

}  // namespace atrous
