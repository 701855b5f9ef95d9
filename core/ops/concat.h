// Concatenation along the channel (last) axis, e.g. DeepLabv3's ASPP branches and DeepLab-MSc features.
#pragma once
#include <vector>

#include "core/tensor.h"

namespace atrous {

// Every input has the same shape but for the last axis, the same dtype and device.
Tensor concat_channels(const std::vector<Tensor>& inputs);

}  // namespace atrous
