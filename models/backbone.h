// What a DeepLabv3+ encoder needs from a backbone: the final (atrous) features and the stride-4 low-level
// features for the decoder, from one pass; and an output stride that can change without new weights.
#pragma once
#include "layers/module.h"

namespace atrous {

struct BackboneFeatures {
  Tensor low_level;  // stride 4
  Tensor out;        // stride output_stride()
};

class Backbone : public Module {
 public:
  using Module::Module;

  virtual BackboneFeatures forward_features(const Tensor& x) = 0;
  virtual int out_channels() const = 0;
  virtual int low_level_channels() const = 0;
  virtual void set_output_stride(int output_stride) = 0;
  virtual int output_stride() const = 0;
};

}  // namespace atrous
