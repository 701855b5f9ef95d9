// ResNet basic block (He et al. 2016, Fig. 2 left; ResNet-18/34): two 3x3 convs, each followed by BN, plus an
// identity or 1x1-conv+BN projection shortcut. Names follow torchvision: conv1/bn1/conv2/bn2, downsample.0/.1.
// torchvision refuses dilation in basic blocks; here both 3x3 convs take the block's rate, which is what running
// the strided network densely requires (every conv after a removed stride sees a dilated grid).
#pragma once
#include <memory>

#include "core/random.h"
#include "layers/batch_norm2d.h"
#include "layers/bottleneck.h"
#include "layers/residual_block.h"
#include "layers/sequential.h"

namespace atrous {

struct BasicBlockOptions {
  int in_channels = 0;
  int planes = 0;  // output channels (expansion 1)
  int stride = 1;
  int dilation = 1;
  bool downsample = false;  // torchvision's rule: stride != 1 or in_channels != planes
  BatchNormSettings bn{};

  BasicBlockOptions(int in, int planes_, int stride_ = 1, int dilation_ = 1)
      : in_channels(in), planes(planes_), stride(stride_), dilation(dilation_),
        downsample(stride_ != 1 || in != planes_) {}
};

class BasicBlock : public ResidualBlock {
 public:
  static constexpr int kExpansion = 1;

  BasicBlock(const BasicBlockOptions& options, Generator& gen);

  // x [N,H,W,in] -> [N, ceil(H/stride), ceil(W/stride), planes].
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  void set_stride(int stride) override;
  void set_dilation(int dilation) override;
  int stride() const override { return conv1_->options().stride; }
  int dilation() const override { return conv1_->options().dilation; }
  int out_channels() const override { return conv2_->options().out_channels; }
  Conv2d* downsample_conv() override { return downsample_conv_.get(); }
  Conv2d& conv1() { return *conv1_; }
  Conv2d& conv2() { return *conv2_; }

 private:
  std::shared_ptr<Conv2d> conv1_, conv2_;
  std::shared_ptr<BatchNorm2d> bn1_, bn2_;
  std::shared_ptr<Sequential> downsample_;
  std::shared_ptr<Conv2d> downsample_conv_;
};

}  // namespace atrous
