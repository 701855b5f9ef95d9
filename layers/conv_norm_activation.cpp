#include "layers/conv_norm_activation.h"

#include "layers/simple_layers.h"

namespace atrous {

const char* activation_name(Activation a) {
  switch (a) {
    case Activation::None: return "none";
    case Activation::ReLU: return "ReLU";
    case Activation::ReLU6: return "ReLU6";
    case Activation::Hardswish: return "Hardswish";
  }
  return "?";
}

std::shared_ptr<Module> make_activation(Activation a) {
  switch (a) {
    case Activation::None: return nullptr;
    case Activation::ReLU: return std::make_shared<ReLU>();
    case Activation::ReLU6: return std::make_shared<ReLU6>();
    case Activation::Hardswish: return std::make_shared<Hardswish>();
  }
  return nullptr;
}

ConvNormActivation::ConvNormActivation(const Conv2dOptions& conv, const BatchNormSettings& bn, Activation activation,
                                       Generator& gen) {
  conv_ = add(std::make_shared<Conv2d>(Conv2dOptions(conv).with_bias(false), gen));
  kaiming_normal_fan_out_(conv_->weight(), gen);
  bn_ = add(std::make_shared<BatchNorm2d>(bn.options(conv.out_channels)));
  if (auto act = make_activation(activation)) add(act);
}

std::shared_ptr<Sequential> separable_conv_norm_activation(int in_channels, int out_channels, int kernel, int dilation,
                                                           const BatchNormSettings& bn, Activation activation,
                                                           Generator& gen) {
  auto seq = std::make_shared<Sequential>();
  seq->add(std::make_shared<ConvNormActivation>(
      Conv2dOptions(in_channels, in_channels, kernel).with_groups(in_channels).with_dilation(dilation).with_same_padding(),
      bn, activation, gen));
  seq->add(std::make_shared<ConvNormActivation>(Conv2dOptions(in_channels, out_channels, 1), bn, activation, gen));
  return seq;
}

}  // namespace atrous
