// Inverted dropout: in training each element is zeroed with probability p and the survivors scaled by 1/(1-p), so
// evaluation is the identity. Masks come from the counter-based generator: reproducible for a given seed/offset.
#pragma once
#include "core/random.h"
#include "core/tensor.h"

namespace atrous {

Tensor dropout(const Tensor& x, double p, bool training, Generator& gen = default_generator());

}  // namespace atrous
