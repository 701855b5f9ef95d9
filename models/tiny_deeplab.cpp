#include "models/tiny_deeplab.h"

#include <cmath>

#include "core/atrous.h"
#include "layers/conv_bn_relu.h"
#include "models/registry.h"

namespace atrous {
namespace {

ModelDefinition tiny_definition(const TinyDeepLabConfig& c) {
  ATROUS_CHECK(c.in_channels >= 1 && c.num_classes >= 2 && c.width >= 1 && !c.aspp_rates.empty(),
               "TinyDeepLab: need in_channels >= 1, num_classes >= 2, width >= 1 and at least one ASPP rate");
  ModelDefinition d;
  d.name = "tiny-deeplab";
  d.description = "TinyDeepLab: 2 conv-BN-ReLU-pool stages, dilated conv, ASPP-v2 head (sum), output stride 4";
  d.num_classes = c.num_classes;
  d.output_stride = 4;
  d.align_corners = true;
  // The synthetic batches are normalised as (x - 128) / 64 (data/synthetic.h): x / 64 - 2.
  d.preprocessing.input_scale = 1.0 / 64.0;
  d.preprocessing.mean = {2.0f, 2.0f, 2.0f};
  return d;
}

// He initialisation (fan-in, ReLU gain), in place.
void he_init(Tensor& w, Generator& gen) {
  const double std = std::sqrt(2.0 / (w.size(1) * w.size(2) * w.size(3)));
  w.detach().copy_(Tensor::randn(w.shape(), gen) * std);
}

}  // namespace

TinyDeepLab::TinyDeepLab(const TinyDeepLabConfig& config, Generator& gen)
    : SegmentationModel("TinyDeepLab", tiny_definition(config)), config_(config) {
  const int w = config.width;
  stage1_ = add_stage("stage1", config.in_channels, w, 1, gen);
  stage2_ = add_stage("stage2", w, 2 * w, 1, gen);
  dilated_ = add_stage("dilated", 2 * w, 2 * w, 2, gen);
  for (size_t i = 0; i < config.aspp_rates.size(); ++i) {
    const int rate = config.aspp_rates[i];
    auto head = register_module("head" + std::to_string(i),
                                std::make_shared<Conv2d>(Conv2dOptions(2 * w, config.num_classes, 3)
                                                             .with_dilation(rate)
                                                             .with_same_padding()
                                                             .with_lr_mult(10, 20),
                                                         gen));
    // DeepLab initialises classifiers with std 0.01 and zero bias.
    head->weight().detach().copy_(Tensor::randn(head->weight().shape(), gen) * 0.01);
    head->bias().detach().zero_();
    heads_.push_back(head);
  }
}

TinyDeepLab::Stage TinyDeepLab::add_stage(const std::string& name, int cin, int cout, int dilation, Generator& gen) {
  Stage s{register_module(name + "_conv", std::make_shared<Conv2d>(
                                               Conv2dOptions(cin, cout, 3).with_dilation(dilation).with_same_padding().with_bias(false), gen)),
          register_module(name + "_bn", std::make_shared<BatchNorm2d>(BatchNorm2dOptions(cout)))};
  he_init(s.conv->weight(), gen);
  return s;
}

Tensor TinyDeepLab::run(const Stage& stage, const Tensor& x) {
  return conv_bn_relu(*stage.conv, stage.bn.get(), x, true);
}

Tensor TinyDeepLab::forward(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == config_.in_channels, "TinyDeepLab: input must be [N,H,W,",
               config_.in_channels, "], got ", x.description());
  const Pool2dParams pool = Pool2dParams().with_kernel(3).with_stride(2).with_padding(1).with_ceil_mode(true);
  Tensor h = max_pool2d(run(stage1_, x), pool);
  h = max_pool2d(run(stage2_, h), pool);
  h = run(dilated_, h);
  Tensor logits;
  for (const auto& head : heads_) {
    Tensor branch = head->forward(h);
    logits = logits.defined() ? add(logits, branch) : branch;
  }
  return logits;
}

Tensor TinyDeepLab::segment(const Tensor& x) {
  return resize_bilinear(forward(x), ResizeParams::to_size(x.size(1), x.size(2), definition_.align_corners));
}

void register_tiny_models(ModelRegistry& registry) {
  registry.add("tiny-deeplab", "TinyDeepLab (quickstart): 2 stages, dilated conv, ASPP-v2 head, OS4",
               [](const ModelOptions& options) {
                 Generator gen(options.seed);
                 TinyDeepLabConfig config;
                 config.num_classes = options.num_classes;
                 auto model = std::make_shared<TinyDeepLab>(config, gen);
                 if (options.output_stride != 0) model->set_output_stride(options.output_stride);
                 return model;
               });
}

}  // namespace atrous
