#include "models/mobilenet_v3_segmentation.h"

#include "core/ops/activation.h"
#include "core/ops/elementwise.h"
#include "core/ops/resize.h"
#include "layers/simple_layers.h"

namespace atrous {
namespace {

ModelDefinition torchvision_definition(const std::string& name, const std::string& description, int num_classes,
                                       int output_stride) {
  ATROUS_CHECK(num_classes >= 1, name, ": num_classes must be >= 1, got ", num_classes);
  ModelDefinition d;
  d.name = name;
  d.description = description;
  d.num_classes = num_classes;
  d.output_stride = output_stride;
  d.align_corners = false;
  d.preprocessing = imagenet_rgb_preprocessing();
  return d;
}

std::shared_ptr<Conv2d> conv(int in, int out, int kernel, bool bias, Generator& gen) {
  return std::make_shared<Conv2d>(Conv2dOptions(in, out, kernel).with_padding(kernel / 2).with_bias(bias), gen);
}

}  // namespace

DeepLabV3MobileNetV3::DeepLabV3MobileNetV3(int num_classes, Generator& gen)
    : SegmentationModel("DeepLabV3MobileNetV3",
                        torchvision_definition("deeplabv3_mobilenet_v3_large",
                                               "DeepLabv3 (torchvision definition) MobileNetV3-Large: output stride "
                                               "16 (last stage at rate 2), ASPP 1x1 + 3x3 rates 12,24,36 + image "
                                               "pooling, dropout 0.5, 3x3 conv 256 + BN + ReLU, 1x1 classifier",
                                               num_classes, 16)) {
  backbone_ = register_module("backbone", std::make_shared<MobileNetV3Large>(16, gen));
  classifier_ = register_module("classifier", std::make_shared<Sequential>());
  classifier_->add(std::make_shared<AsppV3>(AsppV3Options(backbone_->out_channels())
                                                .with_rates({12, 24, 36})
                                                .with_dropout(0.5)
                                                .with_align_corners(false)
                                                .with_he_init(false),
                                            gen));
  classifier_->add(conv(256, 256, 3, false, gen));
  classifier_->add(std::make_shared<BatchNorm2d>(BatchNorm2dOptions(256)));
  classifier_->add(std::make_shared<ReLU>());
  classifier_->add(conv(256, num_classes, 1, true, gen));
}

Tensor DeepLabV3MobileNetV3::forward(const Tensor& x) { return classifier_->forward(backbone_->forward(x)); }

void DeepLabV3MobileNetV3::set_output_stride(int output_stride) {
  backbone_->set_output_stride(output_stride);
  definition_.output_stride = output_stride;
}

LrasppHead::LrasppHead(int low_channels, int high_channels, int num_classes, int inter_channels, Generator& gen)
    : Module("LrasppHead") {
  cbr_ = register_module("cbr", std::make_shared<Sequential>());
  cbr_->add(conv(high_channels, inter_channels, 1, false, gen));
  cbr_->add(std::make_shared<BatchNorm2d>(BatchNorm2dOptions(inter_channels)));
  cbr_->add(std::make_shared<ReLU>());
  scale_ = register_module("scale", std::make_shared<Sequential>());
  scale_->add(std::make_shared<GlobalAvgPool2d>());
  scale_->add(conv(high_channels, inter_channels, 1, false, gen));
  scale_->add(std::make_shared<Sigmoid>());
  low_classifier_ = register_module("low_classifier", conv(low_channels, num_classes, 1, true, gen));
  high_classifier_ = register_module("high_classifier", conv(inter_channels, num_classes, 1, true, gen));
}

Tensor LrasppHead::forward(const Tensor& low, const Tensor& high) {
  Tensor h = scale_channels(cbr_->forward(high), scale_->forward(high));
  h = resize_bilinear(h, ResizeParams::to_size(low.size(1), low.size(2), false));
  return add(low_classifier_->forward(low), high_classifier_->forward(h));
}

Tensor LrasppHead::forward(const Tensor&) {
  ATROUS_FAIL("LrasppHead: forward needs the low- and high-level features (forward(low, high))");
}

LrasppMobileNetV3::LrasppMobileNetV3(int num_classes, Generator& gen)
    : SegmentationModel("LrasppMobileNetV3",
                        torchvision_definition("lraspp_mobilenet_v3_large",
                                               "Lite R-ASPP (torchvision definition) MobileNetV3-Large: output "
                                               "stride 16, 1x1 conv 128 + BN + ReLU gated by sigmoid(1x1 conv(image "
                                               "pool)), plus a 1x1 classifier on the stride-8 features; logits at "
                                               "stride 8",
                                               num_classes, 16)) {
  backbone_ = register_module("backbone", std::make_shared<MobileNetV3Large>(16, gen));
  classifier_ = register_module(
      "classifier", std::make_shared<LrasppHead>(backbone_->channels_after(MobileNetV3Large::kStride8Index),
                                                 backbone_->out_channels(), num_classes, 128, gen));
}

Tensor LrasppMobileNetV3::forward(const Tensor& x) {
  const BackboneFeatures f = backbone_->forward_features(x, MobileNetV3Large::kStride8Index);
  return classifier_->forward(f.low_level, f.out);
}

void LrasppMobileNetV3::set_output_stride(int output_stride) {
  ATROUS_CHECK(output_stride == 16 || output_stride == 32, "lraspp_mobilenet_v3_large: output stride must be 16 or "
               "32 (its low-level features are at stride 8), got ", output_stride);
  backbone_->set_output_stride(output_stride);
  definition_.output_stride = output_stride;
}

void register_mobilenet_v3_models(ModelRegistry& r) {
  r.add("deeplabv3_mobilenet_v3_large",
        "torchvision deeplabv3_mobilenet_v3_large: MobileNetV3-Large OS16, ASPP (12,24,36), 3x3 head",
        [](const ModelOptions& o) -> std::shared_ptr<SegmentationModel> {
          Generator gen(o.seed);
          auto model = std::make_shared<DeepLabV3MobileNetV3>(o.num_classes, gen);
          if (o.output_stride != 0) model->set_output_stride(o.output_stride);
          return model;
        });
  r.add("lraspp_mobilenet_v3_large", "torchvision lraspp_mobilenet_v3_large: MobileNetV3-Large OS16, Lite R-ASPP",
        [](const ModelOptions& o) -> std::shared_ptr<SegmentationModel> {
          Generator gen(o.seed);
          auto model = std::make_shared<LrasppMobileNetV3>(o.num_classes, gen);
          if (o.output_stride != 0) model->set_output_stride(o.output_stride);
          return model;
        });
}

}  // namespace atrous
