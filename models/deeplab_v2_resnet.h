// DeepLab v2 on ResNet (Chen et al. TPAMI 2017, Sec. 4.1-4.2): an atrous ResNet at output stride 8 (layer3 rate 2,
// layer4 rate 4) with frozen BN, and the ASPP-L head: four 3x3 convs at rates 6, 12, 18, 24 straight from the 2048
// channels to the classes (with bias), summed. Caffe names them fc1_voc12_c0..c3; here aspp.branches.0..3.
// The backbone follows torchvision's ResNet (stride on the 3x3 conv, ImageNet RGB preprocessing) so that
// torchvision's ImageNet weights load; Caffe's MSRA ResNet strides on the 1x1 conv and takes BGR.
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "layers/aspp.h"
#include "models/resnet.h"
#include "models/segmentation_model.h"

namespace atrous {

struct DeepLabV2ResNetConfig {
  std::string name = "deeplabv2-resnet101";
  ResNetConfig backbone;  // output stride 8 and frozen BN by default (see deeplabv2_resnet_config)
  int num_classes = 21;
  std::vector<int> rates{6, 12, 18, 24};  // ASPP-L
};

DeepLabV2ResNetConfig deeplabv2_resnet_config(int depth, int num_classes);

class DeepLabV2ResNet : public SegmentationModel {
 public:
  DeepLabV2ResNet(const DeepLabV2ResNetConfig& config, Generator& gen);

  // x [N,H,W,3] preprocessed -> logits [N, ceil(H/8), ceil(W/8), classes].
  Tensor forward(const Tensor& x) override;

  ResNet& backbone() { return *backbone_; }
  AsppV2& aspp() { return *aspp_; }
  const DeepLabV2ResNetConfig& config() const { return config_; }

 private:
  DeepLabV2ResNetConfig config_;
  std::shared_ptr<ResNet> backbone_;
  std::shared_ptr<AsppV2> aspp_;
};

}  // namespace atrous
