// DeepLab v2 ResNet: frozen-BN atrous ResNet (output stride 8) + ASPP-L (sum of four atrous 3x3 classifiers).
#include "models/deeplab_v2_resnet.h"

namespace atrous {
namespace {

std::string rates_text(const std::vector<int>& rates) {
  std::string s;
  for (int r : rates) s += (s.empty() ? "" : ",") + std::to_string(r);
  return s;
}

ModelDefinition v2_definition(const DeepLabV2ResNetConfig& c) {
  ATROUS_CHECK(c.num_classes >= 1, c.name, ": num_classes must be >= 1, got ", c.num_classes);
  ModelDefinition d;
  d.name = c.name;
  d.description = "DeepLab-v2 ResNet-" + std::to_string(resnet_depth(c.backbone)) + " ASPP: output stride " +
                  std::to_string(c.backbone.output_stride) + " (" +
                  resnet_rates_summary(c.backbone, c.backbone.output_stride) + "; torchvision blocks), " +
                  std::string(c.backbone.bn.frozen ? "frozen BN, " : "") + "ASPP 3x3 rates " + rates_text(c.rates) +
                  " from 2048 ch to the classes, summed; logits resized with align_corners=true; preprocessing " +
                  imagenet_rgb_preprocessing().str();
  d.num_classes = c.num_classes;
  d.output_stride = c.backbone.output_stride;
  d.align_corners = true;  // Caffe's Interp layer
  d.preprocessing = imagenet_rgb_preprocessing();
  return d;
}

}  // namespace

DeepLabV2ResNetConfig deeplabv2_resnet_config(int depth, int num_classes) {
  ATROUS_CHECK(depth == 50 || depth == 101, "deeplabv2_resnet_config: depth must be 50 or 101, got ", depth);
  DeepLabV2ResNetConfig c;
  c.name = "deeplabv2-resnet" + std::to_string(depth);
  c.backbone = depth == 50 ? ResNetConfig::resnet50() : ResNetConfig::resnet101();
  c.backbone.output_stride = 8;
  c.backbone.bn.frozen = true;  // DeepLab v2 fine-tunes ResNet with BN statistics and affine fixed
  // Caffe's DeepLab v2 ResNet dilates res4a/res5a (the blocks that gave up their stride) at the new rate too.
  c.backbone.dilation_rule = DilationRule::Uniform;
  c.num_classes = num_classes;
  return c;
}

DeepLabV2ResNet::DeepLabV2ResNet(const DeepLabV2ResNetConfig& config, Generator& gen)
    : SegmentationModel("DeepLabV2ResNet", v2_definition(config)), config_(config) {
  backbone_ = register_module("backbone", std::make_shared<ResNet>(config.backbone, gen));
  aspp_ = register_module(
      "aspp", std::make_shared<AsppV2>(
                  AsppV2Options(backbone_->out_channels(), config.num_classes).with_rates(config.rates), gen));
}

Tensor DeepLabV2ResNet::forward(const Tensor& x) {
  ATROUS_CHECK(x.dim() == 4 && x.size(3) == 3, definition_.name, ": input must be [N,H,W,3], got ", x.description());
  return aspp_->forward(backbone_->forward(x));
}

}  // namespace atrous
