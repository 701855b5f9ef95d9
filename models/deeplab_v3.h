// DeepLabv3 (Chen et al. 2017, "Rethinking Atrous Convolution"): an atrous ResNet with either the ASPP v3 head
// (Sec. 3.3) or cascaded layer4 copies (Sec. 3.2), in two definitions: the paper's (output stride 16, Multi-Grid,
// ASPP rates 6/12/18) and torchvision's deeplabv3_resnet50/101 (output stride 8, rates 12/24/36, an extra 3x3
// conv in the head, torchvision's state-dict names). The output stride can change after construction with the same
// weights (the paper trains at 16 and evaluates at 8).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "layers/aspp.h"
#include "models/registry.h"
#include "models/resnet.h"
#include "models/segmentation_model.h"

namespace atrous {

enum class DeepLabV3Head {
  Aspp,             // paper: classifier.0 = ASPP v3, classifier.1 = 1x1 conv to the classes
  TorchvisionAspp,  // torchvision's DeepLabHead: classifier.0 ASPP, .1 3x3 conv 256, .2 BN, .3 ReLU, .4 1x1 conv
  Cascade,          // cascaded layer4 copies in the backbone, classifier.0 = 1x1 conv to the classes
  Fcn,              // torchvision's FCNHead (FCN-ResNet): .0 3x3 conv to in/4, .1 BN, .2 ReLU, .3 dropout, .4 1x1 conv
};

struct DeepLabV3Config {
  std::string name;   // registry name
  std::string title;  // first words of the description
  ResNetConfig backbone;
  int num_classes = 21;
  DeepLabV3Head head = DeepLabV3Head::Aspp;
  std::vector<int> aspp_rates{6, 12, 18};
  int aspp_rates_output_stride = 16;  // the output stride at which aspp_rates hold; they scale with 1/stride
  double dropout = 0.1;               // after the ASPP projection
  bool align_corners = true;          // logits -> image resize, and the image pooling upsample
  bool he_init_head = true;           // false: PyTorch default init in the head (as torchvision builds it)
  Preprocessing preprocessing = imagenet_rgb_preprocessing();
};

// The paper's DeepLabv3 with ASPP: ResNet-depth (50 or 101), OS16, Multi-Grid (1,2,4), ASPP (6,12,18) + image
// pooling, BN momentum 0.0003 (TF decay 0.9997), dropout 0.1 (TF DeepLab), align_corners=true. As in TF DeepLab,
// every block of an atrous layer runs at the layer's rate (DilationRule::Uniform), layer4 times the unit rates.
DeepLabV3Config deeplabv3_paper_config(int depth, int num_classes);
// The paper's best cascaded model: layer4 + 3 copies ("block7"), Multi-Grid (1,2,1), OS16, 1x1 classifier.
DeepLabV3Config deeplabv3_cascade_config(int depth, int num_classes);
// torchvision.models.segmentation.deeplabv3_resnet50/101: OS8 (replace_stride_with_dilation [F,T,T]), no
// Multi-Grid, ASPP (12,24,36), dropout 0.5, 3x3 conv head, BN momentum 0.1, align_corners=false.
DeepLabV3Config deeplabv3_torchvision_config(int depth, int num_classes);
// torchvision.models.segmentation.fcn_resnet50/101: the same OS8 ResNet with FCNHead (no ASPP), align_corners=false.
DeepLabV3Config fcn_torchvision_config(int depth, int num_classes);

class DeepLabV3 : public SegmentationModel {
 public:
  DeepLabV3(const DeepLabV3Config& config, Generator& gen);

  // x [N,H,W,3] preprocessed -> logits [N, ceil(H/os), ceil(W/os), classes].
  Tensor forward(const Tensor& x) override;
  // 8, 16 or 32: every backbone stride/rate and the ASPP rates change; the weights stay.
  void set_output_stride(int output_stride) override;

  // Model-wide BN settings (the paper fine-tunes at OS8 with BN frozen).
  void set_bn_momentum(double momentum);
  void set_frozen_bn(bool frozen);

  ResNet& backbone() { return *backbone_; }
  AsppV3* aspp() { return aspp_.get(); }  // null for the cascaded model
  Conv2d& logits_conv() { return *logits_; }
  const DeepLabV3Config& config() const { return config_; }
  // ASPP rates at an output stride.
  std::vector<int> aspp_rates_at(int output_stride) const;

 private:
  std::string make_description() const;

  DeepLabV3Config config_;
  std::shared_ptr<ResNet> backbone_;
  std::shared_ptr<Sequential> classifier_;
  std::shared_ptr<AsppV3> aspp_;
  std::shared_ptr<Conv2d> logits_;
};

// Adds the ResNet family to the zoo: resnet50-deeplabv3, resnet101-deeplabv3, resnet101-deeplabv3-cascade,
// deeplabv3_resnet50, deeplabv3_resnet101, fcn_resnet50, fcn_resnet101 (torchvision), deeplabv2-resnet50,
// deeplabv2-resnet101, deeplabv2-resnet101-msc.
void register_resnet_models(ModelRegistry& registry);

}  // namespace atrous
