// The VGG-16 DeepLab family: v1 (fc6 7x7 rate 4, 4x4 rate 4, 4x4 rate 8, LargeFOV 3x3 rate 12; v2 paper Table 1),
// v1 DeepLab-MSc (multi-scale features from the input and pool1..pool4, v1 paper "Multi-scale prediction") and
// v2's ASPP-S/L (four fc6-fc7-fc8 branches at different rates, summed; v2 paper Fig. 7 and Table 3).
//
// Parameter names: VGG convolutions "features.N.*" (torchvision vgg16 indices); a v1 head "fc6.*", "fc7.*", "fc8.*"
// (fc8 is the classifier, lr x10, bias x20); ASPP branch i (0-based, in the order of the rates)
// "aspp.i.fc6.*", "aspp.i.fc7.*", "aspp.i.fc8.*"; the MSc MLPs "ms_input.*", "ms_pool1.*" .. "ms_pool4.*", each
// "conv1.*" (3x3, 128) and "conv2.*" (1x1, 128).
#pragma once
#include <memory>
#include <string>
#include <vector>

#include "core/random.h"
#include "layers/conv2d.h"
#include "models/registry.h"
#include "models/segmentation_model.h"
#include "models/vgg_backbone.h"

namespace atrous {

struct VggDeepLabConfig {
  std::string name = "deeplab-v1-largefov";
  std::string description;
  int num_classes = 21;
  int fc6_kernel = 3;
  // One rate: a v1 head (fc6/fc7/fc8). Several: v2 ASPP, one fc6-fc7-fc8 branch per rate, class scores summed.
  std::vector<int> fc6_rates = {12};
  int fc_channels = 1024;      // fc6 and fc7 width: 4096 as VGG's fc layers, 1024 for LargeFOV and ASPP
  bool pool5_avg_pool = true;  // the released LargeFOV applies a 3x3 stride-1 pad-1 average pool after pool5
  bool msc_features = false;   // DeepLab-MSc: 5 two-layer MLPs (640 channels) concatenated before fc8
  double dropout = 0.5;        // after fc6 and fc7
};

// The papers' variants by registry name ("deeplab-v1-largefov", "deeplab-v1-7x7r4", "deeplab-v1-4x4r4",
// "deeplab-v1-4x4r8", "deeplab-v1-msc-largefov", "deeplab-v2-vgg16-aspp-s", "deeplab-v2-vgg16-aspp-l").
VggDeepLabConfig vgg_deeplab_config(const std::string& name, int num_classes = 21);

struct VggFcBranchOptions {
  int in_channels = 512;
  int kernel = 3;  // fc6
  int rate = 12;   // fc6
  int channels = 1024;
  int classifier_extra_channels = 0;  // features concatenated to fc7's output before fc8 (DeepLab-MSc: 640)
  int num_classes = 21;
  double dropout = 0.5;
};

// fc6 (kernel k, rate r, padding r(k-1)/2) - ReLU - dropout - fc7 (1x1) - ReLU - dropout - fc8 (1x1, classes).
// For even k the padding keeps the size because r(k-1) is even at the papers' rates (4x4 rate 4: pad 6, taps at
// offsets -6,-2,+2,+6; rate 8: pad 12), so 41x41 stays 41x41 with taps placed symmetrically around each output.
class VggFcBranch : public Module {
 public:
  VggFcBranch(const VggFcBranchOptions& options, Generator& gen);
  Tensor forward(const Tensor& x) override { return classify(fc7_features(x)); }
  // Through fc7's ReLU and dropout (what DeepLab-MSc concatenates its features to).
  Tensor fc7_features(const Tensor& x);
  Tensor classify(const Tensor& features);
  std::string describe() const override;

 private:
  VggFcBranchOptions options_;
  std::shared_ptr<Conv2d> fc6_, fc7_, fc8_;
  std::shared_ptr<Module> drop6_, drop7_;
};

class VggDeepLab : public SegmentationModel {
 public:
  // Initialisation: VGG convolutions, fc6, fc7 and the MSc MLPs He-normal (fan-in) with zero biases (real use
  // loads ImageNet weights into features.* and decimated fc6/fc7, as the papers); fc8 Gaussian std 0.01, zero bias
  // (the DeepLab prototxts' classifier filler).
  VggDeepLab(const VggDeepLabConfig& config, Generator& gen);

  // Preprocessed BGR [N,H,W,3] -> logits [N, ceil((H-1)/8)+1, ceil((W-1)/8)+1, classes] (321 -> 41).
  Tensor forward(const Tensor& x) override;

  const VggDeepLabConfig& config() const { return config_; }
  Vgg16Features& features() { return *features_; }

 private:
  Tensor msc_concat(const Tensor& x, const VggPools& pools, const Tensor& fc7);

  VggDeepLabConfig config_;
  std::shared_ptr<Vgg16Features> features_;
  std::shared_ptr<Module> pool5_avg_;
  std::shared_ptr<VggFcBranch> head_;              // v1 (its layers registered directly: fc6.*, fc7.*, fc8.*)
  std::shared_ptr<Module> aspp_;                   // v2: the branches aspp.0 .. aspp.n-1, scores summed
  std::vector<std::shared_ptr<Module>> msc_mlps_;  // input, pool1..pool4
};

// Adds every VGG-16 DeepLab variant, and the multi-scale (MSC, scales 1, 0.75, 0.5) v2 models
// "deeplab-v2-vgg16-largefov-msc", "deeplab-v2-vgg16-aspp-s-msc", "deeplab-v2-vgg16-aspp-l-msc".
void register_vgg_models(ModelRegistry& registry);

}  // namespace atrous
