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

}  // namespace atrous
