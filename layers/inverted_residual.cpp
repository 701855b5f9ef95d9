#include "layers/inverted_residual.h"

#include <algorithm>

#include "core/ops/elementwise.h"

namespace atrous {
namespace {

const InvertedResidualOptions& checked(const InvertedResidualOptions& o) {
  ATROUS_CHECK(o.in_channels >= 1 && o.out_channels >= 1 && o.expand_ratio >= 1 && o.dilation >= 1 &&
                   (o.stride == 1 || o.stride == 2),
               "InvertedResidual: need channels, expand ratio and dilation >= 1 and stride 1 or 2, got in ",
               o.in_channels, ", out ", o.out_channels, ", expand ", o.expand_ratio, ", stride ", o.stride,
               ", dilation ", o.dilation);
  return o;
}

}  // namespace

int make_divisible(double v, int divisor) {
  int rounded = std::max(divisor, int(v + divisor / 2.0) / divisor * divisor);
  if (rounded < 0.9 * v) rounded += divisor;
  return rounded;
}

InvertedResidual::InvertedResidual(const InvertedResidualOptions& options, Generator& gen)
    : Module("InvertedResidual"),
      options_(checked(options)),
      shortcut_(options.stride == 1 && options.in_channels == options.out_channels) {
  const InvertedResidualOptions& o = options_;
  const int hidden = o.in_channels * o.expand_ratio;
  conv_ = register_module("conv", std::make_shared<Sequential>());
  if (o.expand_ratio != 1) {
    conv_->add(std::make_shared<ConvNormActivation>(Conv2dOptions(o.in_channels, hidden, 1), o.bn, Activation::ReLU6,
                                                    gen));
  }
  auto depthwise = conv_->add(std::make_shared<ConvNormActivation>(Conv2dOptions(hidden, hidden, 3)
                                                                       .with_groups(hidden)
                                                                       .with_stride(o.stride)
                                                                       .with_dilation(o.dilation)
                                                                       .with_same_padding(),
                                                                   o.bn, Activation::ReLU6, gen));
  depthwise_ = &depthwise->conv();
  auto project = conv_->add(std::make_shared<Conv2d>(Conv2dOptions(hidden, o.out_channels, 1).with_bias(false), gen));
  kaiming_normal_fan_out_(project->weight(), gen);
  conv_->add(std::make_shared<BatchNorm2d>(o.bn.options(o.out_channels)));
}

Tensor InvertedResidual::forward(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == options_.in_channels, "InvertedResidual: input must be [N,H,W,",
               options_.in_channels, "], got ", x.description());
  Tensor y = conv_->forward(x);
  return shortcut_ ? add(x, y) : y;
}

void InvertedResidual::set_stride(int stride) {
  ATROUS_CHECK(stride == 1 || stride == 2, "InvertedResidual::set_stride: need 1 or 2, got ", stride);
  depthwise_->set_stride(stride);
}

void InvertedResidual::set_dilation(int dilation) { depthwise_->set_dilation(dilation, dilation); }

std::string InvertedResidual::describe() const {
  return detail::concat("InvertedResidual(", options_.in_channels, " -> ", options_.out_channels, ", expand ",
                        options_.expand_ratio, ", stride ", stride(), dilation() != 1 ? ", dilation " : "",
                        dilation() != 1 ? std::to_string(dilation()) : "", shortcut_ ? ", residual)" : ")");
}

}  // namespace atrous
