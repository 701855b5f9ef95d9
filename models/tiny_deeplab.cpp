#include "models/tiny_deeplab.h"

#include <cmath>

#include "core/atrous.h"

namespace atrous {
namespace {

// He initialisation (fan-in, ReLU gain) for a [Cout,KH,KW,Cin] weight.
Tensor he_weight(int cout, int k, int cin, Generator& gen) {
  Tensor w = Tensor::randn({cout, k, k, cin}, gen);
  const double std = std::sqrt(2.0 / (k * k * cin));
  float* p = w.data<float>();
  for (int64_t i = 0; i < w.numel(); ++i) p[i] = static_cast<float>(p[i] * std);
  return w.set_requires_grad(true);
}

}  // namespace

TinyDeepLab::ConvBn TinyDeepLab::make_conv_bn(int cin, int cout, Generator& gen) {
  return {he_weight(cout, 3, cin, gen), Tensor::ones({cout}).set_requires_grad(true),
          Tensor::zeros({cout}).set_requires_grad(true), Tensor::zeros({cout}), Tensor::ones({cout})};
}

TinyDeepLab::TinyDeepLab(const TinyDeepLabConfig& config, Generator& gen) : config_(config) {
  ATROUS_CHECK(config.in_channels >= 1 && config.num_classes >= 2 && config.width >= 1 && !config.aspp_rates.empty(),
               "TinyDeepLab: need in_channels >= 1, num_classes >= 2, width >= 1 and at least one ASPP rate");
  const int w = config.width;
  stage1_ = make_conv_bn(config.in_channels, w, gen);
  stage2_ = make_conv_bn(w, 2 * w, gen);
  dilated_ = make_conv_bn(2 * w, 2 * w, gen);
  for (size_t i = 0; i < config.aspp_rates.size(); ++i) {
    Tensor head = Tensor::randn({config.num_classes, 3, 3, 2 * w}, gen);
    float* p = head.data<float>();
    for (int64_t j = 0; j < head.numel(); ++j) p[j] *= 0.01f;  // DeepLab initialises classifiers with std 0.01
    head_weights_.push_back(head.set_requires_grad(true));
    head_biases_.push_back(Tensor::zeros({config.num_classes}).set_requires_grad(true));
  }
}

Tensor TinyDeepLab::conv_bn_relu(const Tensor& x, ConvBn& layer, int dilation, bool training) {
  Tensor y = conv2d(x, layer.weight, Tensor(), Conv2dParams().with_padding(dilation).with_dilation(dilation));
  BatchNormParams bn;
  bn.mode = training ? BatchNormMode::Train : BatchNormMode::Eval;
  return relu(batch_norm(y, layer.gamma, layer.beta, layer.running_mean, layer.running_var, bn));
}

Tensor TinyDeepLab::forward(const Tensor& x, bool training) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == config_.in_channels, "TinyDeepLab: input must be [N,H,W,",
               config_.in_channels, "], got ", x.description());
  const Pool2dParams pool = Pool2dParams().with_kernel(3).with_stride(2).with_padding(1).with_ceil_mode(true);
  Tensor h = max_pool2d(conv_bn_relu(x, stage1_, 1, training), pool);
  h = max_pool2d(conv_bn_relu(h, stage2_, 1, training), pool);
  h = conv_bn_relu(h, dilated_, 2, training);
  Tensor logits;
  for (size_t i = 0; i < head_weights_.size(); ++i) {
    const int rate = config_.aspp_rates[i];
    Tensor branch = conv2d(h, head_weights_[i], head_biases_[i], Conv2dParams().with_padding(rate).with_dilation(rate));
    logits = logits.defined() ? add(logits, branch) : branch;
  }
  return resize_bilinear(logits, ResizeParams::to_size(x.size(1), x.size(2), /*align_corners=*/true));
}

std::vector<Tensor> TinyDeepLab::parameters() const {
  std::vector<Tensor> params;
  for (const ConvBn* layer : {&stage1_, &stage2_, &dilated_}) {
    params.push_back(layer->weight);
    params.push_back(layer->gamma);
    params.push_back(layer->beta);
  }
  params.insert(params.end(), head_weights_.begin(), head_weights_.end());
  params.insert(params.end(), head_biases_.begin(), head_biases_.end());
  return params;
}

int64_t TinyDeepLab::parameter_count() const {
  int64_t n = 0;
  for (const Tensor& p : parameters()) n += p.numel();
  return n;
}

}  // namespace atrous
