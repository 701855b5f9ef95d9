// Conv (no bias) -> BN -> optional activation, as torchvision's Conv2dNormActivation: children "0" (conv), "1" (BN)
// and "2" (the activation, when there is one), so state-dict names match torchvision's MobileNets.
#pragma once
#include <memory>
#include <string>

#include "core/random.h"
#include "layers/batch_norm2d.h"
#include "layers/bottleneck.h"
#include "layers/conv2d.h"
#include "layers/sequential.h"

namespace atrous {

enum class Activation { None, ReLU, ReLU6, Hardswish };
const char* activation_name(Activation a);
std::shared_ptr<Module> make_activation(Activation a);  // null for None

class ConvNormActivation : public Sequential {
 public:
  // The conv gets He (fan_out) initialisation, as torchvision's MobileNets and ResNets initialise theirs.
  ConvNormActivation(const Conv2dOptions& conv, const BatchNormSettings& bn, Activation activation, Generator& gen);

  Conv2d& conv() { return *conv_; }
  const std::shared_ptr<Conv2d>& conv_ptr() const { return conv_; }
  BatchNorm2d& bn() { return *bn_; }

 private:
  std::shared_ptr<Conv2d> conv_;
  std::shared_ptr<BatchNorm2d> bn_;
};

// A depthwise-separable conv (DeepLabv3+ Sec. 3.2, "atrous separable convolution"): "0" the depthwise
// kernel x kernel conv at `dilation` (same padding) + BN + activation, "1" the 1x1 conv to out_channels + BN +
// activation (TF DeepLab's split_separable_conv2d, with an activation after both halves). About kernel^2 times
// cheaper than the full conv for wide layers.
std::shared_ptr<Sequential> separable_conv_norm_activation(int in_channels, int out_channels, int kernel, int dilation,
                                                           const BatchNormSettings& bn, Activation activation,
                                                           Generator& gen);

}  // namespace atrous
