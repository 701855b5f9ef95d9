#include "layers/basic_block.h"

#include "layers/conv_bn_relu.h"

namespace atrous {
namespace {

const BasicBlockOptions& checked(const BasicBlockOptions& o) {
  ATROUS_CHECK(o.in_channels >= 1 && o.planes >= 1 && o.stride >= 1 && o.dilation >= 1,
               "BasicBlock: need in_channels, planes, stride and dilation >= 1, got ", o.in_channels, ", ", o.planes,
               ", ", o.stride, ", ", o.dilation);
  ATROUS_CHECK(o.downsample || (o.stride == 1 && o.in_channels == o.planes),
               "BasicBlock: an identity shortcut needs stride 1 and in_channels == planes, got stride ", o.stride,
               ", in_channels ", o.in_channels, ", planes ", o.planes);
  return o;
}

std::shared_ptr<Conv2d> he_conv(const Conv2dOptions& options, Generator& gen) {
  auto conv = std::make_shared<Conv2d>(options, gen);
  kaiming_normal_fan_out_(conv->weight(), gen);
  return conv;
}

}  // namespace

BasicBlock::BasicBlock(const BasicBlockOptions& options, Generator& gen) : ResidualBlock("BasicBlock") {
  const BasicBlockOptions& o = checked(options);
  auto conv3x3 = [&](int in, int stride) {
    return he_conv(
        Conv2dOptions(in, o.planes, 3).with_stride(stride).with_dilation(o.dilation).with_same_padding().with_bias(false),
        gen);
  };
  conv1_ = register_module("conv1", conv3x3(o.in_channels, o.stride));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(o.bn.options(o.planes)));
  conv2_ = register_module("conv2", conv3x3(o.planes, 1));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(o.bn.options(o.planes)));
  if (o.downsample) {
    downsample_ = register_module("downsample", std::make_shared<Sequential>());
    downsample_conv_ =
        downsample_->add(he_conv(Conv2dOptions(o.in_channels, o.planes, 1).with_stride(o.stride).with_bias(false), gen));
    downsample_->add(std::make_shared<BatchNorm2d>(o.bn.options(o.planes)));
  }
}

Tensor BasicBlock::forward(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == conv1_->options().in_channels, "BasicBlock: input must be [N,H,W,",
               conv1_->options().in_channels, "], got ", x.description());
  Tensor h = conv_bn_relu(*conv1_, bn1_.get(), x, true);
  // The shortcut joins in conv_bn_relu: in inference inside the convolution's epilogue, in training as add_relu.
  const Tensor shortcut = downsample_ ? downsample_->forward(x) : x;
  return conv_bn_relu(*conv2_, bn2_.get(), h, true, shortcut);
}

void BasicBlock::set_stride(int stride) {
  ATROUS_CHECK(stride >= 1, "BasicBlock::set_stride: need stride >= 1, got ", stride);
  ATROUS_CHECK(stride == 1 || downsample_, "BasicBlock::set_stride: stride ", stride,
               " needs a projection shortcut, and this block has an identity shortcut");
  conv1_->set_stride(stride);
  if (downsample_conv_) downsample_conv_->set_stride(stride);
}

void BasicBlock::set_dilation(int dilation) {
  conv1_->set_dilation(dilation, dilation);
  conv2_->set_dilation(dilation, dilation);
}

std::string BasicBlock::describe() const {
  std::string s = "BasicBlock(" + std::to_string(conv1_->options().in_channels) + " -> " +
                  std::to_string(conv2_->options().out_channels);
  if (stride() != 1) s += ", stride " + std::to_string(stride());
  if (dilation() != 1) s += ", dilation " + std::to_string(dilation());
  if (downsample_) s += ", projection";
  return s + ")";
}

}  // namespace atrous
