// A small DeepLab-style network for the quickstart, examples and end-to-end tests: two conv+BN+ReLU+pool stages
// (output stride 4), a dilated conv, and a v2-style ASPP head (parallel 3x3 convs at rates {1,2,4}, summed).
// forward() returns logits at stride 4; segment() resizes them bilinearly (align_corners=true, as Caffe's Interp)
// to the input size.
#pragma once
#include <memory>
#include <vector>

#include "core/random.h"
#include "layers/batch_norm2d.h"
#include "layers/conv2d.h"
#include "models/segmentation_model.h"

namespace atrous {

struct TinyDeepLabConfig {
  int in_channels = 3;
  int num_classes = 4;
  int width = 16;  // channels of the first stage; later stages use 2x
  std::vector<int> aspp_rates = {1, 2, 4};
};

class TinyDeepLab : public SegmentationModel {
 public:
  TinyDeepLab(const TinyDeepLabConfig& config, Generator& gen);

  // x: [N,H,W,in_channels] -> logits [N,ceil(H/4),ceil(W/4),num_classes].
  Tensor forward(const Tensor& x) override;
  // Logits resized to the input's height and width.
  Tensor segment(const Tensor& x);
  const TinyDeepLabConfig& config() const { return config_; }

 private:
  struct Stage {
    std::shared_ptr<Conv2d> conv;
    std::shared_ptr<BatchNorm2d> bn;
  };
  Stage add_stage(const std::string& name, int cin, int cout, int dilation, Generator& gen);
  static Tensor run(const Stage& stage, const Tensor& x);

  TinyDeepLabConfig config_;
  Stage stage1_, stage2_, dilated_;
  std::vector<std::shared_ptr<Conv2d>> heads_;
};

class ModelRegistry;
// Registers "tiny-deeplab" (the quickstart's network) so that the command line can load its weights.
void register_tiny_models(ModelRegistry& registry);

}  // namespace atrous
