// VGG-16's 13 convolutions as DeepLab modifies them (v1 paper section 3.1, v2 section 3.1): pool1..pool3 max 3x3
// stride 2 pad 1 (Caffe ceil mode), pool4 and pool5 max 3x3 stride 1 pad 1, conv5_x dilated by 2, so the output
// stride is 8 (a 321x321 input gives 41x41 features). Children are named as torchvision's vgg16().features.
#pragma once
#include <array>

#include "core/random.h"
#include "layers/conv2d.h"
#include "layers/module.h"

namespace atrous {

// Outputs of pool1..pool5 (strides 2, 4, 8, 8, 8; channels 64, 128, 256, 512, 512).
struct VggPools {
  std::array<Tensor, 5> pool;
};

class Vgg16Features : public Module {
 public:
  // Indices of the convolutions in torchvision's features Sequential (the ReLUs and pools fill the gaps), so
  // torchvision's features.N.weight/bias import by name.
  static constexpr std::array<int, 13> kConvIndices = {0, 2, 5, 7, 10, 12, 14, 17, 19, 21, 24, 26, 28};
  static constexpr std::array<int, 5> kPoolIndices = {4, 9, 16, 23, 30};

  // Convolutions He-initialised (fan-in, ReLU gain) with zero biases; real use loads ImageNet weights.
  explicit Vgg16Features(Generator& gen);

  // [N,H,W,3] -> pool5 output [N, ceil((H-1)/8)+1, ceil((W-1)/8)+1, 512].
  Tensor forward(const Tensor& x) override;
  // Every pool's output, for models that tap intermediate layers (DeepLab-MSc).
  VggPools forward_pools(const Tensor& x);
  std::string describe() const override;

  // The feature size for an input size: the three stride-2 ceil-mode pools, ceil((in-1)/8)+1.
  static int64_t output_size(int64_t in);
};

// In-place initialisers drawn from `gen` (counter-based, so filled in parallel and reproducible for a seed).
void normal_init_(Tensor& t, double std, Generator& gen);
// He (MSRA) normal for conv weights [Cout,KH,KW,Cin]: std = sqrt(2 / (KH*KW*Cin)); bias zeroed.
void he_init_(Conv2d& conv, Generator& gen);

}  // namespace atrous
