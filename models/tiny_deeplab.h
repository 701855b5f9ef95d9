// A small DeepLab-style network for the quickstart, examples and end-to-end tests: two conv+BN+ReLU+pool stages
// (output stride 4), a dilated conv, and a v2-style ASPP head (parallel 3x3 convs at rates {1,2,4}, summed), with
// the logits resized bilinearly (align_corners=true, as Caffe's Interp) back to the input size.
#pragma once
#include <vector>

#include "core/random.h"
#include "core/tensor.h"

namespace atrous {

struct TinyDeepLabConfig {
  int in_channels = 3;
  int num_classes = 4;
  int width = 16;  // channels of the first stage; later stages use 2x
  std::vector<int> aspp_rates = {1, 2, 4};
};

class TinyDeepLab {
 public:
  TinyDeepLab(const TinyDeepLabConfig& config, Generator& gen);

  // x: [N,H,W,in_channels] -> logits [N,H,W,num_classes].
  Tensor forward(const Tensor& x, bool training);
  std::vector<Tensor> parameters() const;
  int64_t parameter_count() const;
  const TinyDeepLabConfig& config() const { return config_; }

 private:
  struct ConvBn {
    Tensor weight, gamma, beta, running_mean, running_var;
  };
  static ConvBn make_conv_bn(int cin, int cout, Generator& gen);
  static Tensor conv_bn_relu(const Tensor& x, ConvBn& layer, int dilation, bool training);

  TinyDeepLabConfig config_;
  ConvBn stage1_, stage2_, dilated_;
  std::vector<Tensor> head_weights_, head_biases_;
};

}  // namespace atrous
