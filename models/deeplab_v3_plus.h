// DeepLabv3+ (Chen et al. 2018, "Encoder-Decoder with Atrous Separable Convolution", Sec. 3.1, Fig. 2): the v3
// encoder (atrous backbone + ASPP with image pooling) and a decoder: the backbone's stride-4 features projected by
// 1x1 conv+BN+ReLU to 48 channels, concatenated with the encoder output upsampled x4 (bilinear), refined by two 3x3
// conv+BN+ReLU (256), then a 1x1 conv to the classes; logits at stride 4 (resized to the image by the caller).
// Backbones: ResNet-50/101 and MobileNetV2. Without the decoder and with no ASPP rates, the same class is the
// MobileNetV2 paper's "Mobile DeepLabv3" (Sec. 6.3: ASPP's 1x1 branch and image pooling only, OS16).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "layers/aspp.h"
#include "layers/conv_norm_activation.h"
#include "models/backbone.h"
#include "models/mobilenet_v2.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "models/segmentation_model.h"

namespace atrous {

enum class BackboneKind { ResNet, MobileNetV2 };

struct DeepLabV3PlusConfig {
  std::string name;   // registry name
  std::string title;  // first words of the description
  BackboneKind backbone = BackboneKind::ResNet;
  ResNetConfig resnet = ResNetConfig::resnet101().with_output_stride(16);
  MobileNetV2Config mobilenet = MobileNetV2Config().with_output_stride(16);
  int num_classes = 21;
  std::vector<int> aspp_rates{6, 12, 18};  // at aspp_rates_output_stride; they scale with 1/stride
  int aspp_rates_output_stride = 16;
  int aspp_channels = 256;
  double dropout = 0.1;          // after the ASPP projection
  bool decoder = true;           // false: logits straight from the encoder (Mobile DeepLabv3)
  int low_level_channels = 48;   // the decoder's projection of the stride-4 features (Sec. 4.1: 48 is best)
  int decoder_channels = 256;    // its two 3x3 convs
  bool separable = false;        // ASPP's atrous branches and the decoder's convs depthwise-separable (Sec. 3.2)
  bool align_corners = true;     // TF DeepLab's resizes
  BatchNormSettings bn{};
  Preprocessing preprocessing = imagenet_rgb_preprocessing();

  int output_stride() const {
    return backbone == BackboneKind::ResNet ? resnet.output_stride : mobilenet.output_stride;
  }
};

// The paper's DeepLabv3+ on ResNet-depth (50/101; 18/34 with basic blocks): OS16, ASPP (6,12,18) + image pooling,
// decoder 48/256.
DeepLabV3PlusConfig deeplabv3plus_resnet_config(int depth, int num_classes);
// DeepLabv3+ on MobileNetV2 (width 1.0): OS16, ASPP (6,12,18) + image pooling, decoder 48/256.
DeepLabV3PlusConfig deeplabv3plus_mobilenet_v2_config(int num_classes);
// The same with depthwise-separable ASPP branches and decoder convs (DeepLabv3+ Sec. 3.2): the CPU-friendly form.
DeepLabV3PlusConfig deeplabv3plus_mobilenet_v2_lite_config(int num_classes);
// MobileNetV2 paper, Table 7's "Mobile DeepLabv3": MobileNetV2 at OS16, ASPP's 1x1 branch + image pooling, no
// atrous branches, no decoder (logits at stride 16).
DeepLabV3PlusConfig mobile_deeplabv3_config(int num_classes);

class DeepLabV3Plus : public SegmentationModel {
 public:
  DeepLabV3Plus(const DeepLabV3PlusConfig& config, Generator& gen);

  // x [N,H,W,3] preprocessed -> logits [N, ceil(H/4), ceil(W/4), classes] (with the decoder; else at the stride).
  Tensor forward(const Tensor& x) override;
  // 8, 16 or 32 for the encoder; ASPP rates scale with it. The decoder stays at stride 4.
  void set_output_stride(int output_stride) override;

  Backbone& backbone() { return *backbone_; }
  AsppV3& aspp() { return *aspp_; }
  const DeepLabV3PlusConfig& config() const { return config_; }
  std::vector<int> aspp_rates_at(int output_stride) const;

 private:
  std::string make_description() const;

  DeepLabV3PlusConfig config_;
  std::shared_ptr<Backbone> backbone_;
  std::shared_ptr<AsppV3> aspp_;
  std::shared_ptr<ConvNormActivation> low_level_;
  std::shared_ptr<Sequential> fuse_;
  std::shared_ptr<Conv2d> classifier_;
};

// Adds deeplabv3plus-resnet18/34/50/101, deeplabv3plus-mobilenetv2, mobile-deeplabv3.
void register_deeplab_v3_plus_models(ModelRegistry& registry);

}  // namespace atrous
