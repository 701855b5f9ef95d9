#include "layers/mobilenet_v3_block.h"

#include "core/ops/elementwise.h"
#include "layers/inverted_residual.h"
#include "layers/squeeze_excitation.h"

namespace atrous {
namespace {

const MobileNetV3BlockOptions& checked(const MobileNetV3BlockOptions& o) {
  ATROUS_CHECK(o.in_channels >= 1 && o.expanded_channels >= 1 && o.out_channels >= 1 && o.kernel % 2 == 1 &&
                   (o.stride == 1 || o.stride == 2),
               "MobileNetV3Block: need channels >= 1, an odd kernel and stride 1 or 2, got in ", o.in_channels,
               ", expanded ", o.expanded_channels, ", out ", o.out_channels, ", kernel ", o.kernel, ", stride ",
               o.stride);
  return o;
}

}  // namespace

MobileNetV3Block::MobileNetV3Block(const MobileNetV3BlockOptions& options, Generator& gen)
    : Module("MobileNetV3Block"),
      options_(checked(options)),
      shortcut_(options.stride == 1 && options.in_channels == options.out_channels) {
  const MobileNetV3BlockOptions& o = options_;
  block_ = register_module("block", std::make_shared<Sequential>());
  if (o.expanded_channels != o.in_channels) {
    block_->add(std::make_shared<ConvNormActivation>(Conv2dOptions(o.in_channels, o.expanded_channels, 1), o.bn,
                                                     o.activation, gen));
  }
  auto depthwise = block_->add(std::make_shared<ConvNormActivation>(
      Conv2dOptions(o.expanded_channels, o.expanded_channels, o.kernel)
          .with_groups(o.expanded_channels)
          .with_stride(o.stride)
          .with_same_padding(),
      o.bn, o.activation, gen));
  depthwise_ = &depthwise->conv();
  if (o.squeeze_excitation) {
    block_->add(std::make_shared<SqueezeExcitation>(o.expanded_channels, make_divisible(o.expanded_channels / 4), gen));
  }
  block_->add(std::make_shared<ConvNormActivation>(Conv2dOptions(o.expanded_channels, o.out_channels, 1), o.bn,
                                                   Activation::None, gen));
}

Tensor MobileNetV3Block::forward(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == options_.in_channels, "MobileNetV3Block: input must be [N,H,W,",
               options_.in_channels, "], got ", x.description());
  Tensor y = block_->forward(x);
  return shortcut_ ? add(x, y) : y;
}

void MobileNetV3Block::set_stride(int stride) {
  ATROUS_CHECK(stride == 1 || stride == 2, "MobileNetV3Block::set_stride: need 1 or 2, got ", stride);
  depthwise_->set_stride(stride);
}

void MobileNetV3Block::set_dilation(int dilation) {
  ATROUS_CHECK(dilation >= 1, "MobileNetV3Block::set_dilation: need >= 1, got ", dilation);
  depthwise_->set_dilation(dilation, (options_.kernel - 1) / 2 * dilation);
}

std::string MobileNetV3Block::describe() const {
  const MobileNetV3BlockOptions& o = options_;
  return detail::concat("MobileNetV3Block(", o.in_channels, " -> ", o.expanded_channels, " -> ", o.out_channels, ", ",
                        o.kernel, "x", o.kernel, ", ", activation_name(o.activation), o.squeeze_excitation ? ", SE" : "",
                        ", stride ", stride(), dilation() != 1 ? detail::concat(", dilation ", dilation()) : "",
                        shortcut_ ? ", residual)" : ")");
}

}  // namespace atrous
