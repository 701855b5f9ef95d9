// ResNet bottleneck block: out = relu(bn3(conv3(relu(bn2(conv2(relu(bn1(conv1(x))))))) + shortcut(x)).
#include "layers/bottleneck.h"

#include <cmath>

#include "layers/conv_bn_relu.h"

namespace atrous {

void kaiming_normal_fan_out_(Tensor& weight, Generator& gen) {
  ATROUS_CHECK(weight.dim() == 4, "kaiming_normal_fan_out_: expected a conv weight [Cout,KH,KW,Cin], got ",
               weight.description());
  const double fan_out = double(weight.size(0)) * weight.size(1) * weight.size(2);
  weight.detach().copy_(Tensor::randn(weight.shape(), gen, weight.dtype()) * std::sqrt(2.0 / fan_out));
}

namespace {

const BottleneckOptions& checked(const BottleneckOptions& o) {
  ATROUS_CHECK(o.in_channels >= 1 && o.planes >= 1 && o.stride >= 1 && o.dilation >= 1,
               "Bottleneck: need in_channels, planes, stride and dilation >= 1, got ", o.in_channels, ", ", o.planes,
               ", ", o.stride, ", ", o.dilation);
  ATROUS_CHECK(o.downsample || (o.stride == 1 && o.in_channels == o.planes * Bottleneck::kExpansion),
               "Bottleneck: an identity shortcut needs stride 1 and in_channels == 4 * planes, got stride ", o.stride,
               ", in_channels ", o.in_channels, ", planes ", o.planes);
  return o;
}

std::shared_ptr<Conv2d> he_conv(const Conv2dOptions& options, Generator& gen) {
  auto conv = std::make_shared<Conv2d>(options, gen);
  kaiming_normal_fan_out_(conv->weight(), gen);
  return conv;
}

}  // namespace

Bottleneck::Bottleneck(const BottleneckOptions& options, Generator& gen) : ResidualBlock("Bottleneck") {
  const BottleneckOptions& o = checked(options);
  const int out = o.planes * kExpansion;
  conv1_ = register_module("conv1", he_conv(Conv2dOptions(o.in_channels, o.planes, 1).with_bias(false), gen));
  bn1_ = register_module("bn1", std::make_shared<BatchNorm2d>(o.bn.options(o.planes)));
  conv2_ = register_module("conv2", he_conv(Conv2dOptions(o.planes, o.planes, 3)
                                                .with_stride(o.stride)
                                                .with_dilation(o.dilation)
                                                .with_same_padding()
                                                .with_bias(false),
                                            gen));
  bn2_ = register_module("bn2", std::make_shared<BatchNorm2d>(o.bn.options(o.planes)));
  conv3_ = register_module("conv3", he_conv(Conv2dOptions(o.planes, out, 1).with_bias(false), gen));
  bn3_ = register_module("bn3", std::make_shared<BatchNorm2d>(o.bn.options(out)));
  if (o.downsample) {
    downsample_ = register_module("downsample", std::make_shared<Sequential>());
    downsample_conv_ =
        downsample_->add(he_conv(Conv2dOptions(o.in_channels, out, 1).with_stride(o.stride).with_bias(false), gen));
    downsample_->add(std::make_shared<BatchNorm2d>(o.bn.options(out)));
  }
}

Tensor Bottleneck::forward(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == conv1_->options().in_channels, "Bottleneck: input must be [N,H,W,",
               conv1_->options().in_channels, "], got ", x.description());
  Tensor h = conv_bn_relu(*conv1_, bn1_.get(), x, true);
  h = conv_bn_relu(*conv2_, bn2_.get(), h, true);
  // The shortcut joins in conv_bn_relu: in inference inside the convolution's epilogue, in training as add_relu.
  const Tensor shortcut = downsample_ ? downsample_->forward(x) : x;
  return conv_bn_relu(*conv3_, bn3_.get(), h, true, shortcut);
}

void Bottleneck::set_stride(int stride) {
  ATROUS_CHECK(stride >= 1, "Bottleneck::set_stride: need stride >= 1, got ", stride);
  ATROUS_CHECK(stride == 1 || downsample_, "Bottleneck::set_stride: stride ", stride,
               " needs a projection shortcut, and this block has an identity shortcut");
  conv2_->set_stride(stride);
  if (downsample_conv_) downsample_conv_->set_stride(stride);
}

void Bottleneck::set_dilation(int dilation) { conv2_->set_dilation(dilation, dilation); }

std::string Bottleneck::describe() const {
  std::string s = "Bottleneck(" + std::to_string(conv1_->options().in_channels) + " -> " +
                  std::to_string(conv2_->options().out_channels) + " -> " +
                  std::to_string(conv3_->options().out_channels);
  if (stride() != 1) s += ", stride " + std::to_string(stride());
  if (dilation() != 1) s += ", dilation " + std::to_string(dilation());
  if (downsample_) s += ", projection";
  return s + ")";
}

}  // namespace atrous
