// ResNet-50/101 backbones (He et al. 2016) with torchvision's layout and names (conv1, bn1, layer1..layer4 of
// Bottleneck blocks; no fc), made atrous for dense prediction: output stride 8, 16 or 32 replaces the strides of
// layer3/layer4 by dilation (DeepLab v2 Sec. 4, DeepLabv3 Sec. 3.1), optionally with Multi-Grid unit rates and
// cascaded copies of layer4 (DeepLabv3 Sec. 3.2, "block5..block7", named layer5..layer7 here).
#pragma once
#include <functional>
#include <memory>
#include <vector>

#include "core/random.h"
#include "layers/basic_block.h"
#include "layers/batch_norm2d.h"
#include "layers/bottleneck.h"
#include "layers/conv2d.h"
#include "layers/sequential.h"
#include "models/backbone.h"

namespace atrous {

// Which rate the first block of an atrous layer (the one that gave up its stride) uses.
enum class DilationRule {
  Torchvision,  // the previous layer's rate (torchvision's replace_stride_with_dilation)
  Uniform,      // the layer's own rate, like every other block (Caffe DeepLab v2's res4a/res5a, TF DeepLabv3)
};

enum class ResNetBlock { Bottleneck, Basic };

struct ResNetConfig {
  std::vector<int> blocks{3, 4, 6, 3};  // per layer1..layer4
  ResNetBlock block = ResNetBlock::Bottleneck;  // Basic for ResNet-18/34
  int output_stride = 32;               // 8, 16 or 32
  DilationRule dilation_rule = DilationRule::Torchvision;
  // Unit rates (r1, r2, r3) multiplying the layer rate of each block of layer4 and of the cascaded layers, one per
  // block (DeepLabv3 Sec. 3.2.1); they override the dilation rule there. Empty: no multi-grid.
  std::vector<int> multi_grid;
  int cascaded_layers = 0;  // copies of layer4 after it (layer5, ...), each at twice the previous rate
  BatchNormSettings bn{};

  static ResNetConfig resnet18() {
    ResNetConfig c;
    c.blocks = {2, 2, 2, 2};
    c.block = ResNetBlock::Basic;
    return c;
  }
  static ResNetConfig resnet34() {
    ResNetConfig c;
    c.block = ResNetBlock::Basic;
    return c;
  }
  static ResNetConfig resnet50() { return {}; }
  static ResNetConfig resnet101() {
    ResNetConfig c;
    c.blocks = {3, 4, 23, 3};
    return c;
  }
  ResNetConfig& with_output_stride(int os) { output_stride = os; return *this; }
  ResNetConfig& with_dilation_rule(DilationRule r) { dilation_rule = r; return *this; }
  ResNetConfig& with_multi_grid(std::vector<int> mg) { multi_grid = std::move(mg); return *this; }
  ResNetConfig& with_cascaded_layers(int n) { cascaded_layers = n; return *this; }
  ResNetConfig& with_bn(const BatchNormSettings& b) { bn = b; return *this; }
};

// Where each layer strides and the rate of every block's 3x3 conv, for a configuration at an output stride.
struct ResNetDilationPlan {
  std::vector<int> layer_stride;                // stride of each layer's first block (layer1 first)
  std::vector<int> layer_rate;                  // the layer's atrous rate
  std::vector<std::vector<int>> block_dilation;  // [layer][block]
};
ResNetDilationPlan resnet_dilation_plan(const ResNetConfig& config, int output_stride);

// "layer3 rate 2 (first block 1), layer4 rates 2,4,8": the atrous layers at an output stride, for descriptions.
std::string resnet_rates_summary(const ResNetConfig& config, int output_stride);

// 50 for bottleneck blocks {3,4,6,3}, 101 for {3,4,23,3}: three convs per block (two per basic block: 18, 34) plus
// the stem conv and the (absent) fc.
int resnet_depth(const ResNetConfig& config);

// Calls fn on every BatchNorm2d in the tree under root (to freeze BN or change its momentum model-wide).
void for_each_batch_norm(Module& root, const std::function<void(BatchNorm2d&)>& fn);

class ResNet : public Backbone {
 public:
  static constexpr int kStemChannels = 64;

  ResNet(const ResNetConfig& config, Generator& gen);

  // x [N,H,W,3] -> features [N, ceil(H/os), ceil(W/os), 2048] (torchvision's stem: 7x7/2 conv, 3x3/2 max pool).
  Tensor forward(const Tensor& x) override;
  // The same pass, also keeping layer1's output (stride 4, 256 channels) for DeepLabv3+'s decoder.
  BackboneFeatures forward_features(const Tensor& x) override;
  std::string describe() const override;

  // Re-plans every stride and rate for output stride 8, 16 or 32 with the same weights.
  void set_output_stride(int output_stride) override;
  int output_stride() const override { return output_stride_; }
  int out_channels() const override { return 512 * expansion(); }
  int low_level_channels() const override { return 64 * expansion(); }
  int expansion() const { return config_.block == ResNetBlock::Basic ? BasicBlock::kExpansion : Bottleneck::kExpansion; }
  int num_layers() const { return static_cast<int>(layers_.size()); }  // 4 + cascaded layers
  // layer is 1-based as in the names ("layer4"); block 0-based.
  ResidualBlock& block(int layer, int index);
  Bottleneck& bottleneck(int layer, int index);  // an error for basic-block networks
  Sequential& layer(int layer);
  // Current 3x3 rates, [layer][block].
  std::vector<std::vector<int>> block_dilations() const;
  const ResNetConfig& config() const { return config_; }
  // Freezes (or unfreezes) every BN: running statistics always, no gradient to weight/bias.
  void set_frozen_bn(bool frozen);

 private:
  void apply_plan(const ResNetDilationPlan& plan);

  ResNetConfig config_;
  int output_stride_;
  std::shared_ptr<Conv2d> conv1_;
  std::shared_ptr<BatchNorm2d> bn1_;
  std::vector<std::shared_ptr<Sequential>> layers_;
  std::vector<std::vector<std::shared_ptr<ResidualBlock>>> blocks_;
};

}  // namespace atrous
