// torchvision's two MobileNetV3-Large segmentation models, with torchvision's state-dict names:
// - deeplabv3_mobilenet_v3_large: the dilated backbone (output stride 16) + DeepLabHead (ASPP 12/24/36 + image
//   pooling with dropout 0.5, 3x3 conv 256 + BN + ReLU, 1x1 conv); logits at stride 16.
// - lraspp_mobilenet_v3_large: Lite R-ASPP (Howard et al. 2019, Sec. 6.3, Fig. 10): the last features through
//   1x1 conv 128 + BN + ReLU, gated by sigmoid(1x1 conv(global average pool)), resized to the stride-8 features,
//   whose own 1x1 classifier is added; logits at stride 8.
// Both resize with align_corners=false and take ImageNet preprocessing.
#pragma once
#include <memory>

#include "core/random.h"
#include "layers/aspp.h"
#include "models/mobilenet_v3.h"
#include "models/registry.h"
#include "models/segmentation_model.h"

namespace atrous {

class DeepLabV3MobileNetV3 : public SegmentationModel {
 public:
  DeepLabV3MobileNetV3(int num_classes, Generator& gen);

  // x [N,H,W,3] -> logits [N, ceil(H/16), ceil(W/16), classes] (at the default output stride).
  Tensor forward(const Tensor& x) override;
  void set_output_stride(int output_stride) override;  // ASPP rates stay 12/24/36, as torchvision's are fixed
  MobileNetV3Large& backbone() { return *backbone_; }

 private:
  std::shared_ptr<MobileNetV3Large> backbone_;
  std::shared_ptr<Sequential> classifier_;
};

class LrasppHead : public Module {
 public:
  LrasppHead(int low_channels, int high_channels, int num_classes, int inter_channels, Generator& gen);
  // low: stride-8 features, high: the last features -> logits at low's size.
  Tensor forward(const Tensor& low, const Tensor& high);
  Tensor forward(const Tensor& x) override;  // an error: the head needs both inputs

 private:
  std::shared_ptr<Sequential> cbr_, scale_;
  std::shared_ptr<Conv2d> low_classifier_, high_classifier_;
};

class LrasppMobileNetV3 : public SegmentationModel {
 public:
  LrasppMobileNetV3(int num_classes, Generator& gen);

  // x [N,H,W,3] -> logits [N, ceil(H/8), ceil(W/8), classes].
  Tensor forward(const Tensor& x) override;
  void set_output_stride(int output_stride) override;
  MobileNetV3Large& backbone() { return *backbone_; }

 private:
  std::shared_ptr<MobileNetV3Large> backbone_;
  std::shared_ptr<LrasppHead> classifier_;
};

// Adds deeplabv3_mobilenet_v3_large and lraspp_mobilenet_v3_large.
void register_mobilenet_v3_models(ModelRegistry& registry);

}  // namespace atrous
