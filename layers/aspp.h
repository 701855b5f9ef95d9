// Atrous spatial pyramid pooling heads. v2 (DeepLab v2, Chen et al. TPAMI 2017, Sec. 3.3): parallel 3x3 convs at
// several rates straight to the classes, summed. v3 (DeepLabv3, Chen et al. 2017, Sec. 3.3): 1x1 conv, three atrous
// 3x3 convs and image pooling, each with BN+ReLU, concatenated and projected by 1x1 conv+BN+ReLU (+dropout).
// v3 names follow torchvision's ASPP: convs.0..N (conv ".0", BN ".1"), the pooling branch convs.N+1 (conv ".1",
// BN ".2"), project.0 (conv) / project.1 (BN).
#pragma once
#include <memory>
#include <vector>

#include "core/random.h"
#include "layers/batch_norm2d.h"
#include "layers/bottleneck.h"
#include "layers/conv2d.h"
#include "layers/sequential.h"
#include "layers/simple_layers.h"

namespace atrous {

// Children named "0", "1", ... that the owner runs itself (parallel branches), as PyTorch's nn.ModuleList.
class ModuleList : public Module {
 public:
  ModuleList() : Module("ModuleList") {}
  template <typename M>
  std::shared_ptr<M> add(std::shared_ptr<M> module) {
    return register_module(std::to_string(children().size()), std::move(module));
  }
  size_t size() const { return children().size(); }
  Tensor forward(const Tensor& x) override;  // an error: a list has no forward of its own
};

// ---- ASPP v2: sum_r conv3x3_rate_r(x) ----

struct AsppV2Options {
  int in_channels = 0;
  int out_channels = 0;               // the classes
  std::vector<int> rates{6, 12, 18, 24};  // ASPP-L; ASPP-S is {2, 4, 8, 12}
  // DeepLab v2's prototxt: classifier weights at 10x lr, biases at 20x without decay, weights N(0, 0.01), bias 0.
  double weight_lr_mult = 10.0;
  double bias_lr_mult = 20.0;
  double init_std = 0.01;

  AsppV2Options(int in, int out) : in_channels(in), out_channels(out) {}
  AsppV2Options& with_rates(std::vector<int> r) { rates = std::move(r); return *this; }
};

class AsppV2 : public Module {
 public:
  AsppV2(const AsppV2Options& options, Generator& gen);
  // [N,H,W,in] -> [N,H,W,out].
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  // New rates (same count) with the same weights.
  void set_rates(const std::vector<int>& rates);
  std::vector<int> rates() const;
  Conv2d& branch(size_t i);
  size_t num_branches() const { return branches_.size(); }

 private:
  std::shared_ptr<ModuleList> list_;
  std::vector<std::shared_ptr<Conv2d>> branches_;
};

// ---- ASPP v3 ----

struct AsppV3Options {
  int in_channels = 0;
  int out_channels = 256;
  std::vector<int> rates{6, 12, 18};  // at output stride 16 (doubled at 8)
  bool image_pooling = true;
  bool align_corners = false;  // upsampling of the pooled features (a 1x1 map: both give a constant map)
  double dropout = 0.1;        // after the projection: TF DeepLab's keep_prob 0.9; torchvision uses 0.5
  BatchNormSettings bn{};
  // He (fan_out) initialisation of the convs; false keeps PyTorch's default (uniform +-1/sqrt(fan_in)), which is
  // what torchvision's DeepLabHead gets.
  bool he_init = true;

  // Atrous branches as depthwise-separable convs (DeepLabv3+ Sec. 3.2): depthwise 3x3 at the rate + BN + ReLU,
  // then 1x1 + BN + ReLU. The atrous_conv() of such a branch is its depthwise conv.
  bool separable = false;
  AsppV3Options(int in, int out = 256) : in_channels(in), out_channels(out) {}
  AsppV3Options& with_separable(bool s) { separable = s; return *this; }
  AsppV3Options& with_rates(std::vector<int> r) { rates = std::move(r); return *this; }
  AsppV3Options& with_dropout(double p) { dropout = p; return *this; }
  AsppV3Options& with_align_corners(bool a) { align_corners = a; return *this; }
  AsppV3Options& with_bn(const BatchNormSettings& b) { bn = b; return *this; }
  AsppV3Options& with_he_init(bool h) { he_init = h; return *this; }
  AsppV3Options& with_image_pooling(bool p) { image_pooling = p; return *this; }
};

// Image-level features: global average pool -> 1x1 conv -> BN -> ReLU -> bilinear upsample to the input's size.
// Children as torchvision's ASPPPooling: "0" the pool, "1" conv, "2" BN, "3" ReLU.
class AsppPooling : public Module {
 public:
  AsppPooling(int in_channels, int out_channels, const BatchNormSettings& bn, bool align_corners, bool he_init,
              Generator& gen);
  Tensor forward(const Tensor& x) override;
  Conv2d& conv() { return *conv_; }
  BatchNorm2d& bn() { return *bn_; }

 private:
  std::shared_ptr<Conv2d> conv_;
  std::shared_ptr<BatchNorm2d> bn_;
  bool align_corners_;
};

// Global average pooling as a layer: [N,H,W,C] -> [N,1,1,C].
class GlobalAvgPool2d : public Module {
 public:
  GlobalAvgPool2d() : Module("GlobalAvgPool2d") {}
  Tensor forward(const Tensor& x) override { return global_avg_pool(x); }
};

class AsppV3 : public Module {
 public:
  AsppV3(const AsppV3Options& options, Generator& gen);
  // [N,H,W,in] -> [N,H,W,out].
  Tensor forward(const Tensor& x) override;
  std::string describe() const override;

  void set_rates(const std::vector<int>& rates);
  std::vector<int> rates() const;
  // The atrous 3x3 conv of branch i (0-based over the rates; the 1x1 branch is not counted).
  Conv2d& atrous_conv(size_t i);
  AsppPooling* pooling() { return pooling_.get(); }
  const AsppV3Options& options() const { return options_; }

 private:
  AsppV3Options options_;
  std::shared_ptr<ModuleList> convs_;
  std::vector<std::shared_ptr<Sequential>> branches_;  // 1x1 then the atrous ones
  std::vector<std::shared_ptr<Conv2d>> atrous_;
  std::shared_ptr<AsppPooling> pooling_;
  std::shared_ptr<Sequential> project_;
};

}  // namespace atrous
