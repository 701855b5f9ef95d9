// MobileNetV3-Large (Howard et al. 2019, Table 1) in torchvision's layout: children "0" (3x3/2 conv + BN +
// hardswish), "1".."15" (MobileNetV3Block), "16" (1x1 conv to 960 + BN + hardswish), so that it sits under
// "backbone." with torchvision's segmentation state-dict names. BN eps 1e-3 and momentum 0.01 as torchvision.
// Atrous for dense prediction as torchvision's dilated=True: at output stride 16 the first block of the last stage
// ("C4", block 13) gives up its stride and blocks 13..15 use rate 2; at 8, stage C3 (blocks 7..12) does the same
// with rate 2 and C4 then uses 4.
#pragma once
#include <memory>
#include <vector>

#include "core/random.h"
#include "layers/mobilenet_v3_block.h"
#include "models/backbone.h"

namespace atrous {

class MobileNetV3Large : public Backbone {
 public:
  static constexpr int kStride8Index = 4;   // the output of "4" (40 channels): LR-ASPP's low-level input
  static constexpr int kStride4Index = 3;   // the output of "3" (24 channels): a decoder's low-level input

  MobileNetV3Large(int output_stride, Generator& gen);

  Tensor forward(const Tensor& x) override;
  BackboneFeatures forward_features(const Tensor& x) override;  // low level: stride 4
  // The outputs of child `low_index` and of the last child, from one pass.
  BackboneFeatures forward_features(const Tensor& x, int low_index);
  std::string describe() const override;

  void set_output_stride(int output_stride) override;  // 8, 16 or 32
  int output_stride() const override { return output_stride_; }
  int out_channels() const override { return 960; }
  int low_level_channels() const override { return 24; }
  int channels_after(int index) const;  // output channels of child `index`
  std::vector<std::pair<int, int>> block_strides_and_rates() const;

 private:
  int output_stride_;
  std::vector<std::shared_ptr<Module>> layers_;
  std::vector<std::shared_ptr<MobileNetV3Block>> blocks_;
  std::vector<int> channels_;
};

}  // namespace atrous
