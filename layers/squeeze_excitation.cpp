#include "layers/squeeze_excitation.h"

#include "core/ops/activation.h"
#include "core/ops/elementwise.h"
#include "core/ops/pooling.h"
#include "layers/bottleneck.h"

namespace atrous {
namespace {

// torchvision's MobileNetV3 initialisation for every conv: He (fan_out) weights, zero biases.
std::shared_ptr<Conv2d> he_conv_zero_bias(int in, int out, Generator& gen) {
  auto conv = std::make_shared<Conv2d>(Conv2dOptions(in, out, 1), gen);
  kaiming_normal_fan_out_(conv->weight(), gen);
  conv->bias().detach().zero_();
  return conv;
}

}  // namespace

SqueezeExcitation::SqueezeExcitation(int channels, int squeeze_channels, Generator& gen)
    : Module("SqueezeExcitation") {
  ATROUS_CHECK(channels >= 1 && squeeze_channels >= 1, "SqueezeExcitation: need channels >= 1, got ", channels,
               " and ", squeeze_channels);
  fc1_ = register_module("fc1", he_conv_zero_bias(channels, squeeze_channels, gen));
  fc2_ = register_module("fc2", he_conv_zero_bias(squeeze_channels, channels, gen));
}

Tensor SqueezeExcitation::forward(const Tensor& x) {
  const Tensor s = hardsigmoid(fc2_->forward(relu(fc1_->forward(global_avg_pool(x)))));
  return scale_channels(x, s);
}

std::string SqueezeExcitation::describe() const {
  return detail::concat("SqueezeExcitation(", fc1_->options().in_channels, " -> ", fc1_->options().out_channels,
                        " -> ", fc2_->options().out_channels, ", hard sigmoid)");
}

}  // namespace atrous
