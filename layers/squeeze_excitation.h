// Squeeze-and-excitation (Hu et al. 2018, Fig. 2) as MobileNetV3 uses it (Howard et al. 2019, Sec. 5.3): global
// average pool, 1x1 conv "fc1" (with bias) + ReLU, 1x1 conv "fc2" (with bias) + hard sigmoid, and the input's
// channels rescaled by the result. Names follow torchvision's SqueezeExcitation.
#pragma once
#include <memory>

#include "core/random.h"
#include "layers/conv2d.h"

namespace atrous {

class SqueezeExcitation : public Module {
 public:
  SqueezeExcitation(int channels, int squeeze_channels, Generator& gen);

  // x [N,H,W,C] -> x * hardsigmoid(fc2(relu(fc1(mean over H,W of x)))).
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

 private:
  std::shared_ptr<Conv2d> fc1_, fc2_;
};

}  // namespace atrous
