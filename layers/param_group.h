// Parameters that train with the same learning-rate and weight-decay multipliers (the papers train classifiers at
// 10x the base lr): what a Module hands its optimiser (solvers/sgd.h).
#pragma once
#include <vector>

#include "core/tensor.h"

namespace atrous {

struct ParamGroup {
  std::vector<Tensor> params;
  double lr_mult = 1.0;
  double decay_mult = 1.0;
};

}  // namespace atrous
