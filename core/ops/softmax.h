// Softmax and log-softmax over the last (channel) axis of an NHWC tensor (any rank >= 1).
#pragma once
#include "core/tensor.h"

namespace atrous {

Tensor softmax(const Tensor& x);
Tensor log_softmax(const Tensor& x);

}  // namespace atrous
