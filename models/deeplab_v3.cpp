// DeepLabv3 on an atrous ResNet: paper and torchvision definitions, output stride switchable at 8/16/32, and the
// ResNet family's registry entries (DeepLabv3 and DeepLab v2 ResNet).
#include "models/deeplab_v3.h"

#include "models/deeplab_v2_resnet.h"
#include "models/multi_scale.h"

namespace atrous {
namespace {

std::string join(const std::vector<int>& v) {
  std::string s;
  for (int x : v) s += (s.empty() ? "" : ",") + std::to_string(x);
  return s;
}

std::string number(double v) {
  std::string s = std::to_string(v);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

ModelDefinition v3_definition(const DeepLabV3Config& c) {
  ATROUS_CHECK(c.num_classes >= 1, c.name, ": num_classes must be >= 1, got ", c.num_classes);
  ModelDefinition d;
  d.name = c.name;
  d.num_classes = c.num_classes;
  d.output_stride = c.backbone.output_stride;
  d.align_corners = c.align_corners;
  d.preprocessing = c.preprocessing;
  return d;
}

std::shared_ptr<Conv2d> make_logits_conv(int in_channels, int num_classes, bool small_normal_init, Generator& gen) {
  auto conv = std::make_shared<Conv2d>(Conv2dOptions(in_channels, num_classes, 1).with_lr_mult(1, 1), gen);
  if (small_normal_init) {  // TF DeepLab's logits layer: N(0, 0.01), zero bias
    conv->weight().detach().copy_(Tensor::randn(conv->weight().shape(), gen) * 0.01);
    conv->bias().detach().zero_();
  }
  return conv;
}

}  // namespace

DeepLabV3Config deeplabv3_paper_config(int depth, int num_classes) {
  ATROUS_CHECK(depth == 50 || depth == 101, "deeplabv3_paper_config: depth must be 50 or 101, got ", depth);
  DeepLabV3Config c;
  c.name = "resnet" + std::to_string(depth) + "-deeplabv3";
  c.title = "DeepLabv3 (paper)";
  c.backbone = (depth == 50 ? ResNetConfig::resnet50() : ResNetConfig::resnet101())
                   .with_output_stride(16)
                   .with_dilation_rule(DilationRule::Uniform)  // TF DeepLab: every unit of an atrous block
                   .with_multi_grid({1, 2, 4});
  c.backbone.bn.momentum = 0.0003;  // TF batch-norm decay 0.9997
  c.num_classes = num_classes;
  c.head = DeepLabV3Head::Aspp;
  c.aspp_rates = {6, 12, 18};
  c.aspp_rates_output_stride = 16;
  c.dropout = 0.1;
  c.align_corners = true;
  c.he_init_head = true;
  return c;
}

DeepLabV3Config deeplabv3_cascade_config(int depth, int num_classes) {
  DeepLabV3Config c = deeplabv3_paper_config(depth, num_classes);
  c.name = "resnet" + std::to_string(depth) + "-deeplabv3-cascade";
  c.title = "DeepLabv3 cascaded (paper, block7)";
  c.backbone.with_multi_grid({1, 2, 1}).with_cascaded_layers(3);
  c.head = DeepLabV3Head::Cascade;
  c.aspp_rates.clear();
  return c;
}

DeepLabV3Config deeplabv3_torchvision_config(int depth, int num_classes) {
  ATROUS_CHECK(depth == 50 || depth == 101, "deeplabv3_torchvision_config: depth must be 50 or 101, got ", depth);
  DeepLabV3Config c;
  c.name = "deeplabv3_resnet" + std::to_string(depth);
  c.title = "DeepLabv3 (torchvision definition)";
  c.backbone = (depth == 50 ? ResNetConfig::resnet50() : ResNetConfig::resnet101()).with_output_stride(8);
  c.num_classes = num_classes;
  c.head = DeepLabV3Head::TorchvisionAspp;
  c.aspp_rates = {12, 24, 36};
  c.aspp_rates_output_stride = 8;
  c.dropout = 0.5;
  c.align_corners = false;
  c.he_init_head = false;  // torchvision re-initialises only the backbone
  return c;
}

DeepLabV3Config fcn_torchvision_config(int depth, int num_classes) {
  DeepLabV3Config c = deeplabv3_torchvision_config(depth, num_classes);
  c.name = "fcn_resnet" + std::to_string(depth);
  c.title = "FCN (torchvision definition)";
  c.head = DeepLabV3Head::Fcn;
  c.aspp_rates.clear();
  c.dropout = 0.1;
  return c;
}

DeepLabV3::DeepLabV3(const DeepLabV3Config& config, Generator& gen)
    : SegmentationModel("DeepLabV3", v3_definition(config)), config_(config) {
  ATROUS_CHECK((config.head == DeepLabV3Head::Cascade) == (config.backbone.cascaded_layers > 0), config.name,
               ": the cascade head goes with cascaded backbone layers and only with them");
  const bool has_aspp = config.head == DeepLabV3Head::Aspp || config.head == DeepLabV3Head::TorchvisionAspp;
  ATROUS_CHECK(!has_aspp || !config.aspp_rates.empty(), config.name, ": the ASPP head needs rates");
  backbone_ = register_module("backbone", std::make_shared<ResNet>(config.backbone, gen));
  classifier_ = register_module("classifier", std::make_shared<Sequential>());
  const int features = backbone_->out_channels();
  if (config.head == DeepLabV3Head::Cascade) {
    logits_ = classifier_->add(make_logits_conv(features, config.num_classes, true, gen));
  } else if (config.head == DeepLabV3Head::Fcn) {
    const int width = features / 4;
    classifier_->add(std::make_shared<Conv2d>(Conv2dOptions(features, width, 3).with_padding(1).with_bias(false), gen));
    classifier_->add(std::make_shared<BatchNorm2d>(config.backbone.bn.options(width)));
    classifier_->add(std::make_shared<ReLU>());
    classifier_->add(std::make_shared<Dropout>(config.dropout));
    logits_ = classifier_->add(make_logits_conv(width, config.num_classes, config.he_init_head, gen));
  } else {
    aspp_ = classifier_->add(std::make_shared<AsppV3>(AsppV3Options(features)
                                                          .with_rates(aspp_rates_at(config.backbone.output_stride))
                                                          .with_dropout(config.dropout)
                                                          .with_align_corners(config.align_corners)
                                                          .with_bn(config.backbone.bn)
                                                          .with_he_init(config.he_init_head),
                                                      gen));
    const int width = aspp_->options().out_channels;
    if (config.head == DeepLabV3Head::TorchvisionAspp) {
      auto conv = classifier_->add(
          std::make_shared<Conv2d>(Conv2dOptions(width, width, 3).with_padding(1).with_bias(false), gen));
      if (config.he_init_head) kaiming_normal_fan_out_(conv->weight(), gen);
      classifier_->add(std::make_shared<BatchNorm2d>(config.backbone.bn.options(width)));
      classifier_->add(std::make_shared<ReLU>());
    }
    logits_ = classifier_->add(make_logits_conv(width, config.num_classes, config.he_init_head, gen));
  }
  definition_.description = make_description();
}

Tensor DeepLabV3::forward(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == 3, definition_.name, ": input must be [N,H,W,3], got ", x.description());
  return classifier_->forward(backbone_->forward(x));
}

std::vector<int> DeepLabV3::aspp_rates_at(int output_stride) const {
  ATROUS_CHECK(output_stride == 8 || output_stride == 16 || output_stride == 32, definition_.name,
               ": output stride must be 8, 16 or 32, got ", output_stride);
  std::vector<int> rates;
  for (int r : config_.aspp_rates) {
    const int scaled = r * config_.aspp_rates_output_stride;
    ATROUS_CHECK(scaled % output_stride == 0, definition_.name, ": ASPP rate ", r, " at output stride ",
                 config_.aspp_rates_output_stride, " has no integer equivalent at output stride ", output_stride);
    rates.push_back(scaled / output_stride);
  }
  return rates;
}

void DeepLabV3::set_output_stride(int output_stride) {
  const std::vector<int> rates = aspp_ ? aspp_rates_at(output_stride) : std::vector<int>{};
  backbone_->set_output_stride(output_stride);
  if (aspp_) aspp_->set_rates(rates);
  definition_.output_stride = output_stride;
  definition_.description = make_description();
}

void DeepLabV3::set_bn_momentum(double momentum) {
  for_each_batch_norm(*this, [momentum](BatchNorm2d& bn) { bn.set_momentum(momentum); });
}

void DeepLabV3::set_frozen_bn(bool frozen) {
  for_each_batch_norm(*this, [frozen](BatchNorm2d& bn) { bn.set_frozen(frozen); });
}

std::string DeepLabV3::make_description() const {
  const DeepLabV3Config& c = config_;
  const int os = backbone_->output_stride();
  std::string s = c.title + " ResNet-" + std::to_string(resnet_depth(c.backbone)) + ": output stride " +
                  std::to_string(os) + " (" + resnet_rates_summary(c.backbone, os) + ")";
  if (!c.backbone.multi_grid.empty()) s += ", multi-grid (" + join(c.backbone.multi_grid) + ")";
  if (c.head == DeepLabV3Head::Cascade) {
    s += ", " + std::to_string(c.backbone.cascaded_layers) + " cascaded layer4 copies (layer5..), 1x1 classifier";
  } else if (c.head == DeepLabV3Head::Fcn) {
    s += ", FCN head: 3x3 conv " + std::to_string(backbone_->out_channels() / 4) + " + BN + ReLU, dropout " +
         number(c.dropout) + ", 1x1 classifier";
  } else {
    s += ", ASPP 1x1 + 3x3 rates " + join(aspp_->rates()) + " (" + join(c.aspp_rates) + " at output stride " +
         std::to_string(c.aspp_rates_output_stride) + ") + image pooling, 256 ch with BN+ReLU, concat, 1x1 projection";
    if (c.dropout > 0) s += ", dropout " + number(c.dropout);
    if (c.head == DeepLabV3Head::TorchvisionAspp) s += ", 3x3 conv 256 + BN + ReLU";
    s += ", 1x1 classifier";
  }
  s += "; BN momentum " + number(c.backbone.bn.momentum) +
       "; logits resized with align_corners=" + (c.align_corners ? "true" : "false") + "; preprocessing " +
       c.preprocessing.str();
  return s;
}

void register_resnet_models(ModelRegistry& r) {
  auto add_v3 = [&r](DeepLabV3Config (*make)(int, int), int depth, const std::string& summary) {
    const std::string name = make(depth, 21).name;
    r.add(name, summary, [make, depth](const ModelOptions& o) -> std::shared_ptr<SegmentationModel> {
      Generator gen(o.seed);
      DeepLabV3Config config = make(depth, o.num_classes);
      if (o.output_stride != 0) config.backbone.output_stride = o.output_stride;
      // Rates were stated at a reference output stride; the constructor scales them.
      return std::make_shared<DeepLabV3>(config, gen);
    });
  };
  add_v3(deeplabv3_paper_config, 50,
         "DeepLabv3 paper: ResNet-50, OS16, multi-grid (1,2,4), ASPP (6,12,18) + image pooling");
  add_v3(deeplabv3_paper_config, 101,
         "DeepLabv3 paper: ResNet-101, OS16, multi-grid (1,2,4), ASPP (6,12,18) + image pooling");
  add_v3(deeplabv3_cascade_config, 101, "DeepLabv3 paper, cascaded: ResNet-101 + block5..7, OS16, multi-grid (1,2,1)");
  add_v3(deeplabv3_torchvision_config, 50,
         "torchvision deeplabv3_resnet50: OS8, ASPP (12,24,36), 3x3 head, align_corners=false");
  add_v3(deeplabv3_torchvision_config, 101,
         "torchvision deeplabv3_resnet101: OS8, ASPP (12,24,36), 3x3 head, align_corners=false");
  add_v3(fcn_torchvision_config, 50, "torchvision fcn_resnet50: OS8, FCN head (3x3 conv 512), align_corners=false");
  add_v3(fcn_torchvision_config, 101, "torchvision fcn_resnet101: OS8, FCN head (3x3 conv 512), align_corners=false");
  auto make_v2 = [](int depth, const ModelOptions& o) {
    ATROUS_CHECK(o.output_stride == 0 || o.output_stride == 8, "deeplabv2-resnet", depth,
                 ": the output stride is fixed at 8 for this architecture (asked for ", o.output_stride, ")");
    Generator gen(o.seed);
    return std::make_shared<DeepLabV2ResNet>(deeplabv2_resnet_config(depth, o.num_classes), gen);
  };
  for (int depth : {101, 50}) {
    r.add("deeplabv2-resnet" + std::to_string(depth),
          "DeepLab-v2 ResNet-" + std::to_string(depth) + ": OS8, frozen BN, ASPP-L (3x3 rates 6,12,18,24, summed)",
          [depth, make_v2](const ModelOptions& o) -> std::shared_ptr<SegmentationModel> { return make_v2(depth, o); });
  }
  // The v2 paper's headline model (Table 4, 76.35 VOC val with COCO pre-training and CRF): ASPP-L with MSC.
  r.add("deeplabv2-resnet101-msc", "DeepLab-v2 ResNet-101 ASPP-L, OS8, frozen BN; MSC 1/0.75/0.5, max fusion",
        [make_v2](const ModelOptions& o) -> std::shared_ptr<SegmentationModel> {
          MultiScaleOptions options;
          options.name = "deeplabv2-resnet101-msc";
          return std::make_shared<MultiScale>(make_v2(101, o), options);
        });
}

}  // namespace atrous
