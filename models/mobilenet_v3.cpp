#include "models/mobilenet_v3.h"

namespace atrous {
namespace {

// Table 1 (MobileNetV3-Large): input width, kernel, expansion width, output width, SE, activation, stride.
struct BlockRow {
  int in, kernel, expanded, out;
  bool se;
  Activation activation;
  int stride;
};
constexpr Activation RE = Activation::ReLU, HS = Activation::Hardswish;
constexpr BlockRow kLarge[] = {
    {16, 3, 16, 16, false, RE, 1},    {16, 3, 64, 24, false, RE, 2},    {24, 3, 72, 24, false, RE, 1},
    {24, 5, 72, 40, true, RE, 2},     {40, 5, 120, 40, true, RE, 1},    {40, 5, 120, 40, true, RE, 1},
    {40, 3, 240, 80, false, HS, 2},   {80, 3, 200, 80, false, HS, 1},   {80, 3, 184, 80, false, HS, 1},
    {80, 3, 184, 80, false, HS, 1},   {80, 3, 480, 112, true, HS, 1},   {112, 3, 672, 112, true, HS, 1},
    {112, 5, 672, 160, true, HS, 2},  {160, 5, 960, 160, true, HS, 1},  {160, 5, 960, 160, true, HS, 1},
};
constexpr int kStem = 16, kLast = 960;

BatchNormSettings v3_bn() {
  BatchNormSettings bn;
  bn.eps = 1e-3;
  bn.momentum = 0.01;
  return bn;
}

void check_output_stride(int os) {
  ATROUS_CHECK(os == 8 || os == 16 || os == 32, "MobileNetV3Large: output stride must be 8, 16 or 32, got ", os);
}

}  // namespace

MobileNetV3Large::MobileNetV3Large(int output_stride, Generator& gen)
    : Backbone("MobileNetV3Large"), output_stride_(output_stride) {
  check_output_stride(output_stride);
  const BatchNormSettings bn = v3_bn();
  auto add = [this](std::shared_ptr<Module> m, int channels) {
    layers_.push_back(register_module(std::to_string(layers_.size()), std::move(m)));
    channels_.push_back(channels);
  };
  add(std::make_shared<ConvNormActivation>(Conv2dOptions(3, kStem, 3).with_stride(2).with_padding(1), bn,
                                           Activation::Hardswish, gen),
      kStem);
  for (const BlockRow& r : kLarge) {
    MobileNetV3BlockOptions o;
    o.in_channels = r.in;
    o.kernel = r.kernel;
    o.expanded_channels = r.expanded;
    o.out_channels = r.out;
    o.squeeze_excitation = r.se;
    o.activation = r.activation;
    o.stride = r.stride;
    o.bn = bn;
    blocks_.push_back(std::make_shared<MobileNetV3Block>(o, gen));
    add(blocks_.back(), r.out);
  }
  add(std::make_shared<ConvNormActivation>(Conv2dOptions(kLarge[14].out, kLast, 1), bn, Activation::Hardswish, gen),
      kLast);
  set_output_stride(output_stride);
}

void MobileNetV3Large::set_output_stride(int output_stride) {
  check_output_stride(output_stride);
  // torchvision's rule: once the stride is reached, a strided block keeps stride 1 and takes the doubled rate
  // itself; the blocks after it keep that rate.
  int current = 2, rate = 1;
  for (size_t i = 0; i < blocks_.size(); ++i) {
    const int nominal = kLarge[i].stride;
    if (nominal == 2 && current == output_stride) rate *= 2;
    const bool strides = nominal == 2 && current < output_stride;
    if (strides) current *= 2;
    blocks_[i]->set_stride(strides ? 2 : 1);
    blocks_[i]->set_dilation(rate);
  }
  output_stride_ = output_stride;
}

Tensor MobileNetV3Large::forward(const Tensor& x) { return forward_features(x, kStride4Index).out; }

BackboneFeatures MobileNetV3Large::forward_features(const Tensor& x) { return forward_features(x, kStride4Index); }

BackboneFeatures MobileNetV3Large::forward_features(const Tensor& x, int low_index) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == 3, "MobileNetV3Large: input must be [N,H,W,3], got ", x.description());
  ATROUS_CHECK(low_index >= 0 && low_index < int(layers_.size()), "MobileNetV3Large: no child ", low_index);
  BackboneFeatures f;
  Tensor h = x;
  for (size_t i = 0; i < layers_.size(); ++i) {
    h = layers_[i]->forward(h);
    if (int(i) == low_index) f.low_level = h;
  }
  f.out = h;
  return f;
}

int MobileNetV3Large::channels_after(int index) const {
  ATROUS_CHECK(index >= 0 && index < int(channels_.size()), "MobileNetV3Large: no child ", index);
  return channels_[size_t(index)];
}

std::vector<std::pair<int, int>> MobileNetV3Large::block_strides_and_rates() const {
  std::vector<std::pair<int, int>> out;
  for (const auto& b : blocks_) out.push_back({b->stride(), b->dilation()});
  return out;
}

std::string MobileNetV3Large::describe() const {
  return detail::concat("MobileNetV3-Large (torchvision layout, BN eps 1e-3), output stride ", output_stride_);
}

}  // namespace atrous
