// MobileNetV2 (Sandler et al. 2018, Table 2) with torchvision's layout and names ("features.0" .. "features.18";
// no classifier), made atrous for dense prediction as in the DeepLabv3+ paper's MobileNetV2 encoder: once the
// output stride is reached, later blocks keep stride 1 and raise the rate of their depthwise convs instead (the
// first such block keeps the current rate, later ones multiply it by the stride given up; TF DeepLab's rule).
#pragma once
#include <memory>
#include <vector>

#include "core/random.h"
#include "layers/conv_norm_activation.h"
#include "layers/inverted_residual.h"
#include "models/backbone.h"

namespace atrous {

struct MobileNetV2Config {
  double width_multiplier = 1.0;  // channels scaled and rounded to multiples of 8 (torchvision's _make_divisible)
  int output_stride = 32;         // 8, 16 or 32
  // features.18, the 1x1 conv to 1280 channels that feeds ImageNet's classifier. DeepLab's encoder stops before it
  // (the 320-channel features); torchvision's ImageNet model has it.
  bool last_conv = false;
  BatchNormSettings bn{};

  MobileNetV2Config& with_width(double w) { width_multiplier = w; return *this; }
  MobileNetV2Config& with_output_stride(int os) { output_stride = os; return *this; }
  MobileNetV2Config& with_last_conv(bool c) { last_conv = c; return *this; }
};

class MobileNetV2 : public Backbone {
 public:
  MobileNetV2(const MobileNetV2Config& config, Generator& gen);

  // x [N,H,W,3] -> [N, ceil(H/os), ceil(W/os), out_channels()].
  Tensor forward(const Tensor& x) override;
  // Also the stride-4 features (the end of the 24-channel stage, features.3) for DeepLabv3+'s decoder.
  BackboneFeatures forward_features(const Tensor& x) override;
  std::string describe() const override;

  void set_output_stride(int output_stride) override;
  int output_stride() const override { return output_stride_; }
  int out_channels() const override { return out_channels_; }
  int low_level_channels() const override { return low_level_channels_; }
  // Current (stride, rate) of every inverted residual block, features.1 first.
  std::vector<std::pair<int, int>> block_strides_and_rates() const;
  const MobileNetV2Config& config() const { return config_; }

 private:
  MobileNetV2Config config_;
  int output_stride_;
  int out_channels_ = 0, low_level_channels_ = 0;
  std::shared_ptr<Sequential> features_;
  std::vector<std::shared_ptr<InvertedResidual>> blocks_;
  std::vector<int> nominal_strides_;  // the paper's stride of each block
};

}  // namespace atrous
