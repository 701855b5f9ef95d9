#include "models/deeplab_v3_plus.h"

#include "core/ops/concat.h"
#include "core/ops/resize.h"
#include "models/deeplab_v3.h"

namespace atrous {
namespace {

ModelDefinition v3plus_definition(const DeepLabV3PlusConfig& c) {
  ATROUS_CHECK(c.num_classes >= 1, c.name, ": num_classes must be >= 1, got ", c.num_classes);
  ModelDefinition d;
  d.name = c.name;
  d.num_classes = c.num_classes;
  d.output_stride = c.output_stride();
  d.align_corners = c.align_corners;
  d.preprocessing = c.preprocessing;
  return d;
}

std::shared_ptr<Backbone> make_backbone(const DeepLabV3PlusConfig& c, Generator& gen) {
  if (c.backbone == BackboneKind::ResNet) {
    ResNetConfig resnet = c.resnet;
    resnet.bn = c.bn;
    return std::make_shared<ResNet>(resnet, gen);
  }
  MobileNetV2Config mobilenet = c.mobilenet;
  mobilenet.bn = c.bn;
  return std::make_shared<MobileNetV2>(mobilenet, gen);
}

// TF DeepLab's logits layer: N(0, 0.01) weights, zero bias.
std::shared_ptr<Conv2d> logits_conv(int in_channels, int num_classes, Generator& gen) {
  auto conv = std::make_shared<Conv2d>(Conv2dOptions(in_channels, num_classes, 1).with_lr_mult(1, 1), gen);
  conv->weight().detach().copy_(Tensor::randn(conv->weight().shape(), gen) * 0.01);
  conv->bias().detach().zero_();
  return conv;
}

}  // namespace

DeepLabV3PlusConfig deeplabv3plus_resnet_config(int depth, int num_classes) {
  DeepLabV3PlusConfig c;
  c.name = "deeplabv3plus-resnet" + std::to_string(depth);
  c.title = "DeepLabv3+ ResNet-" + std::to_string(depth);
  c.backbone = BackboneKind::ResNet;
  if (depth == 18 || depth == 34) {
    // Basic-block ResNets for small budgets: every block of an atrous layer at the layer's rate, no multi-grid.
    c.resnet = (depth == 18 ? ResNetConfig::resnet18() : ResNetConfig::resnet34())
                   .with_output_stride(16)
                   .with_dilation_rule(DilationRule::Uniform);
  } else {
    // The v3 paper's atrous ResNet (multi-grid (1,2,4), every block of an atrous layer at its rate), as TF DeepLab.
    c.resnet = deeplabv3_paper_config(depth, num_classes).backbone;
  }
  c.bn = c.resnet.bn;
  c.num_classes = num_classes;
  return c;
}

DeepLabV3PlusConfig deeplabv3plus_mobilenet_v2_config(int num_classes) {
  DeepLabV3PlusConfig c;
  c.name = "deeplabv3plus-mobilenetv2";
  c.title = "DeepLabv3+ MobileNetV2";
  c.backbone = BackboneKind::MobileNetV2;
  c.num_classes = num_classes;
  return c;
}

DeepLabV3PlusConfig deeplabv3plus_mobilenet_v2_lite_config(int num_classes) {
  DeepLabV3PlusConfig c = deeplabv3plus_mobilenet_v2_config(num_classes);
  c.name = "deeplabv3plus-mobilenetv2-lite";
  c.title = "DeepLabv3+ MobileNetV2 lite";
  c.separable = true;
  return c;
}

DeepLabV3PlusConfig mobile_deeplabv3_config(int num_classes) {
  DeepLabV3PlusConfig c = deeplabv3plus_mobilenet_v2_config(num_classes);
  c.name = "mobile-deeplabv3";
  c.title = "Mobile DeepLabv3 (MobileNetV2)";
  c.aspp_rates.clear();
  c.decoder = false;
  return c;
}

DeepLabV3Plus::DeepLabV3Plus(const DeepLabV3PlusConfig& config, Generator& gen)
    : SegmentationModel("DeepLabV3Plus", v3plus_definition(config)), config_(config) {
  ATROUS_CHECK(config.aspp_channels >= 1 && config.low_level_channels >= 1 && config.decoder_channels >= 1,
               config.name, ": channel counts must be >= 1");
  backbone_ = register_module("backbone", make_backbone(config, gen));
  aspp_ = register_module("aspp", std::make_shared<AsppV3>(AsppV3Options(backbone_->out_channels(),
                                                                         config.aspp_channels)
                                                               .with_rates(aspp_rates_at(config.output_stride()))
                                                               .with_dropout(config.dropout)
                                                               .with_align_corners(config.align_corners)
                                                               .with_bn(config.bn)
                                                               .with_separable(config.separable),
                                                           gen));
  int classifier_in = config.aspp_channels;
  if (config.decoder) {
    auto decoder = register_module("decoder", std::make_shared<Sequential>());
    low_level_ = decoder->add("low_level", std::make_shared<ConvNormActivation>(
                                               Conv2dOptions(backbone_->low_level_channels(), config.low_level_channels, 1),
                                               config.bn, Activation::ReLU, gen));
    fuse_ = decoder->add("fuse", std::make_shared<Sequential>());
    const int fused = config.aspp_channels + config.low_level_channels;
    for (int in : {fused, config.decoder_channels}) {
      if (config.separable) {
        fuse_->add(separable_conv_norm_activation(in, config.decoder_channels, 3, 1, config.bn, Activation::ReLU, gen));
      } else {
        fuse_->add(std::make_shared<ConvNormActivation>(Conv2dOptions(in, config.decoder_channels, 3).with_padding(1),
                                                        config.bn, Activation::ReLU, gen));
      }
    }
    classifier_in = config.decoder_channels;
  }
  classifier_ = register_module("classifier", logits_conv(classifier_in, config.num_classes, gen));
  definition_.description = make_description();
}

Tensor DeepLabV3Plus::forward(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == 3, definition_.name, ": input must be [N,H,W,3], got ", x.description());
  const BackboneFeatures features = backbone_->forward_features(x);
  Tensor h = aspp_->forward(features.out);
  if (config_.decoder) {
    const Tensor& low = features.low_level;
    h = resize_bilinear(h, ResizeParams::to_size(low.size(1), low.size(2), config_.align_corners));
    h = fuse_->forward(concat_channels({low_level_->forward(low), h}));
  }
  return classifier_->forward(h);
}

std::vector<int> DeepLabV3Plus::aspp_rates_at(int output_stride) const {
  ATROUS_CHECK(output_stride == 8 || output_stride == 16 || output_stride == 32, config_.name,
               ": output stride must be 8, 16 or 32, got ", output_stride);
  std::vector<int> rates;
  for (int r : config_.aspp_rates) {
    const int scaled = r * config_.aspp_rates_output_stride;
    ATROUS_CHECK(scaled % output_stride == 0, config_.name, ": ASPP rate ", r, " at output stride ",
                 config_.aspp_rates_output_stride, " has no integer equivalent at output stride ", output_stride);
    rates.push_back(scaled / output_stride);
  }
  return rates;
}

void DeepLabV3Plus::set_output_stride(int output_stride) {
  const std::vector<int> rates = aspp_rates_at(output_stride);
  backbone_->set_output_stride(output_stride);
  aspp_->set_rates(rates);
  definition_.output_stride = output_stride;
  definition_.description = make_description();
}

std::string DeepLabV3Plus::make_description() const {
  std::string rates;
  for (int r : aspp_->rates()) rates += (rates.empty() ? "" : ",") + std::to_string(r);
  return detail::concat(config_.title, ": ", backbone_->describe(), ", ASPP ",
                        rates.empty() ? std::string("1x1") : "(" + rates + ")", " + image pooling, ",
                        config_.decoder ? detail::concat("decoder ", config_.low_level_channels, "/",
                                                         config_.decoder_channels, " at stride 4")
                                        : std::string("no decoder"),
                        config_.separable ? ", separable convs" : "",
                        ", ", config_.num_classes, " classes");
}

void register_deeplab_v3_plus_models(ModelRegistry& r) {
  auto add = [&r](const DeepLabV3PlusConfig& example, const std::string& summary,
                  DeepLabV3PlusConfig (*make)(int num_classes)) {
    r.add(example.name, summary, [make](const ModelOptions& o) -> std::shared_ptr<SegmentationModel> {
      Generator gen(o.seed);
      DeepLabV3PlusConfig config = make(o.num_classes);
      auto model = std::make_shared<DeepLabV3Plus>(config, gen);
      if (o.output_stride != 0) model->set_output_stride(o.output_stride);
      return model;
    });
  };
  add(deeplabv3plus_resnet_config(18, 21), "DeepLabv3+: ResNet-18 OS16, ASPP (6,12,18) + pooling, decoder 48/256",
      [](int k) { return deeplabv3plus_resnet_config(18, k); });
  add(deeplabv3plus_resnet_config(34, 21), "DeepLabv3+: ResNet-34 OS16, ASPP (6,12,18) + pooling, decoder 48/256",
      [](int k) { return deeplabv3plus_resnet_config(34, k); });
  add(deeplabv3plus_resnet_config(50, 21), "DeepLabv3+: ResNet-50 OS16, ASPP (6,12,18) + pooling, decoder 48/256",
      [](int k) { return deeplabv3plus_resnet_config(50, k); });
  add(deeplabv3plus_resnet_config(101, 21), "DeepLabv3+: ResNet-101 OS16, ASPP (6,12,18) + pooling, decoder 48/256",
      [](int k) { return deeplabv3plus_resnet_config(101, k); });
  add(deeplabv3plus_mobilenet_v2_config(21), "DeepLabv3+: MobileNetV2 OS16, ASPP (6,12,18) + pooling, decoder 48/256",
      deeplabv3plus_mobilenet_v2_config);
  add(deeplabv3plus_mobilenet_v2_lite_config(21),
      "DeepLabv3+: MobileNetV2 OS16, separable ASPP (6,12,18) + pooling and separable decoder (paper Sec. 3.2)",
      deeplabv3plus_mobilenet_v2_lite_config);
  add(mobile_deeplabv3_config(21), "MobileNetV2 paper's Mobile DeepLabv3: OS16, ASPP 1x1 + image pooling only",
      mobile_deeplabv3_config);
}

}  // namespace atrous
