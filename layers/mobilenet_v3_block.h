// MobileNetV3's bottleneck (Howard et al. 2019, Fig. 4; torchvision's InvertedResidual in mobilenetv3.py): optional
// 1x1 expansion + BN + activation (skipped when the expansion equals the input width), k x k depthwise conv + BN +
// activation (stride or atrous rate), optional squeeze-and-excitation, 1x1 projection + BN, and an identity shortcut
// when the nominal stride is 1 and the widths agree. Children: "block.0", "block.1", ... as torchvision numbers them.
#pragma once
#include <memory>

#include "core/random.h"
#include "layers/conv_norm_activation.h"

namespace atrous {

struct MobileNetV3BlockOptions {
  int in_channels = 0;
  int kernel = 3;
  int expanded_channels = 0;
  int out_channels = 0;
  bool squeeze_excitation = false;
  Activation activation = Activation::ReLU;  // ReLU or Hardswish ("RE" / "HS" in the paper's Table 1)
  int stride = 1;
  BatchNormSettings bn{};
};

class MobileNetV3Block : public Module {
 public:
  MobileNetV3Block(const MobileNetV3BlockOptions& options, Generator& gen);

  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  // The depthwise conv's stride (1 or 2) and rate (padding follows: (kernel - 1) / 2 * rate).
  void set_stride(int stride);
  void set_dilation(int dilation);
  int stride() const { return depthwise_->options().stride; }
  int dilation() const { return depthwise_->options().dilation; }
  const MobileNetV3BlockOptions& options() const { return options_; }

 private:
  MobileNetV3BlockOptions options_;
  bool shortcut_;
  std::shared_ptr<Sequential> block_;
  Conv2d* depthwise_;  // owned by block_
};

}  // namespace atrous
