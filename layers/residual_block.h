// What an atrous ResNet needs from its blocks (Bottleneck for ResNet-50/101, BasicBlock for ResNet-18/34): a
// stride that can turn into a rate, and the projection shortcut's conv when there is one.
#pragma once
#include "layers/conv2d.h"
#include "layers/module.h"

namespace atrous {

class ResidualBlock : public Module {
 public:
  using Module::Module;

  // Stride of the strided 3x3 conv and of the shortcut projection together (a stride needs the projection).
  virtual void set_stride(int stride) = 0;
  // Rate of the 3x3 convs, padding kept equal to it.
  virtual void set_dilation(int dilation) = 0;
  virtual int stride() const = 0;
  virtual int dilation() const = 0;
  virtual int out_channels() const = 0;
  virtual Conv2d* downsample_conv() = 0;  // null for an identity shortcut
  bool has_downsample() { return downsample_conv() != nullptr; }
};

}  // namespace atrous
