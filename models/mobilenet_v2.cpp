#include "models/mobilenet_v2.h"

#include <cmath>

namespace atrous {
namespace {

// Table 2: expansion t, output channels c, repeats n, first stride s.
struct Stage {
  int t, c, n, s;
};
constexpr Stage kStages[] = {{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2},  {6, 64, 4, 2},
                             {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
constexpr int kStemChannels = 32, kLastChannels = 1280;
constexpr int kLowLevelBlocks = 3;  // features.1..3: the stride-4 stage ends there

void check_output_stride(int os) {
  ATROUS_CHECK(os == 8 || os == 16 || os == 32, "MobileNetV2: output stride must be 8, 16 or 32, got ", os);
}

// (stride, rate) per block for an output stride; the stem has already strided by 2.
std::vector<std::pair<int, int>> plan(const std::vector<int>& nominal, int output_stride) {
  std::vector<std::pair<int, int>> out;
  int current = 2, rate = 1;
  for (int s : nominal) {
    if (current == output_stride) {
      out.push_back({1, rate});
      rate *= s;
    } else {
      out.push_back({s, 1});
      current *= s;
    }
  }
  return out;
}

}  // namespace

MobileNetV2::MobileNetV2(const MobileNetV2Config& config, Generator& gen)
    : Backbone("MobileNetV2"), config_(config), output_stride_(config.output_stride) {
  check_output_stride(config.output_stride);
  ATROUS_CHECK(config.width_multiplier > 0, "MobileNetV2: width multiplier must be > 0, got ",
               config.width_multiplier);
  const double w = config.width_multiplier;
  features_ = register_module("features", std::make_shared<Sequential>());
  int in = make_divisible(kStemChannels * w);
  features_->add(std::make_shared<ConvNormActivation>(Conv2dOptions(3, in, 3).with_stride(2).with_padding(1),
                                                      config.bn, Activation::ReLU6, gen));
  for (const Stage& stage : kStages) {
    const int out = make_divisible(stage.c * w);
    for (int i = 0; i < stage.n; ++i) {
      InvertedResidualOptions options(in, out, i == 0 ? stage.s : 1, stage.t);
      options.bn = config.bn;
      blocks_.push_back(features_->add(std::make_shared<InvertedResidual>(options, gen)));
      nominal_strides_.push_back(options.stride);
      if (blocks_.size() == kLowLevelBlocks) low_level_channels_ = out;
      in = out;
    }
  }
  if (config.last_conv) {
    const int last = make_divisible(kLastChannels * std::max(1.0, w));
    features_->add(std::make_shared<ConvNormActivation>(Conv2dOptions(in, last, 1), config.bn, Activation::ReLU6, gen));
    in = last;
  }
  out_channels_ = in;
  set_output_stride(config.output_stride);
}

Tensor MobileNetV2::forward(const Tensor& x) { return forward_features(x).out; }

BackboneFeatures MobileNetV2::forward_features(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == 3, "MobileNetV2: input must be [N,H,W,3], got ", x.description());
  BackboneFeatures features;
  Tensor h = x;
  size_t index = 0;
  for (const auto& child : features_->children()) {
    h = child.second->forward(h);
    if (index++ == kLowLevelBlocks) features.low_level = h;  // features.0 is the stem
  }
  features.out = h;
  return features;
}

void MobileNetV2::set_output_stride(int output_stride) {
  check_output_stride(output_stride);
  const auto strides_and_rates = plan(nominal_strides_, output_stride);
  for (size_t i = 0; i < blocks_.size(); ++i) {
    blocks_[i]->set_stride(strides_and_rates[i].first);
    blocks_[i]->set_dilation(strides_and_rates[i].second);
  }
  output_stride_ = output_stride;
}

std::vector<std::pair<int, int>> MobileNetV2::block_strides_and_rates() const {
  std::vector<std::pair<int, int>> out;
  for (const auto& b : blocks_) out.push_back({b->stride(), b->dilation()});
  return out;
}

std::string MobileNetV2::describe() const {
  return detail::concat("MobileNetV2(width ", config_.width_multiplier, ", output stride ", output_stride_, ", ",
                        out_channels_, " channels)");
}

}  // namespace atrous
